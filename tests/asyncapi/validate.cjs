// Parse and validate an AsyncAPI document with the official parser; print what it found as one JSON line.
// Usage: node validate.cjs FILE. Exit status 1 when the parser reports an error (or no document).
"use strict";
const fs = require("node:fs");
const { Parser, DiagnosticSeverity } = require("@asyncapi/parser");

async function main(file) {
  const { document, diagnostics } = await new Parser().parse(fs.readFileSync(file, "utf8"));
  const describe = (d) => `${d.code}: ${d.message} at ${JSON.stringify(d.path)}`;
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).map(describe);
  const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning).map(describe);
  const summary = { errors, warnings, valid: document !== undefined && errors.length === 0 };
  if (document !== undefined) {
    summary.version = document.version();
    summary.channels = document.channels().all().map((c) => c.address());
    summary.operations = document.operations().all().map((o) => `${o.action()} ${o.id()}`);
    summary.messages = document.components().messages().all().length;
  }
  process.stdout.write(JSON.stringify(summary) + "\n");
  return summary.valid ? 0 : 1;
}

main(process.argv[2]).then((code) => process.exit(code), (err) => {
  process.stderr.write(`validate: ${err}\n`);
  process.exit(2);
});
