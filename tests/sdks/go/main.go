// Ask Gitea's own Go SDK (code.gitea.io/sdk/gitea) to verify deliveries; print its answers as one JSON line.
// Usage: go run . < request.json, the request being {"calls": [{"secret", "body", "headers"}, ...]}. Each
// delivery goes through the SDK's VerifyWebhookSignatureMiddleware (X-Gitea-Signature, HMAC-SHA256 hex):
// the answer is the status it gives and whether the handler behind it was reached with the body intact.
// The SDK's version is pinned by go.mod and go.sum beside this file.
package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"code.gitea.io/sdk/gitea"
)

type call struct {
	Secret  string            `json:"secret"`
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`
}

type answer struct {
	Status  int  `json:"status"`
	Reached bool `json:"reached"`
}

func verify(c call) answer {
	reached := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		reached = err == nil && string(body) == c.Body
		w.WriteHeader(http.StatusOK)
	})
	request := httptest.NewRequest(http.MethodPost, "/webhooks/gitea", strings.NewReader(c.Body))
	for name, value := range c.Headers {
		request.Header.Set(name, value)
	}
	recorder := httptest.NewRecorder()
	gitea.VerifyWebhookSignatureMiddleware(c.Secret)(next).ServeHTTP(recorder, request)
	return answer{Status: recorder.Code, Reached: reached}
}

func main() {
	var request struct {
		Calls []call `json:"calls"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&request); err != nil {
		os.Stderr.WriteString("sdk: " + err.Error() + "\n")
		os.Exit(2)
	}
	answers := make([]answer, 0, len(request.Calls))
	for _, c := range request.Calls {
		answers = append(answers, verify(c))
	}
	if err := json.NewEncoder(os.Stdout).Encode(answers); err != nil {
		os.Exit(2)
	}
}
