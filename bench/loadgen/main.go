// Open-loop load generator for `make bench`: sends requests at a fixed rate whatever the server does,
// and measures each latency from the moment the request was due, not from when a connection was free,
// so a slow server shows as queueing delay instead of silently lowering the rate (coordinated omission;
// wrk is closed-loop and can't do this). Standard library only.
//
// Usage: loadgen -url URL -corpus FILE -rate N -duration 10s -conns 64 -run ID -accepted FILE
// The corpus is bench/corpus.py's format: event<TAB>signature<TAB>body per line. Prints one JSON line.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

type request struct {
	event, signature string
	body             []byte
}

type result struct {
	latency time.Duration
	// From when the request was due to when a connection took it: the generator's own queueing, not the
	// server's (all connections busy, or the generator late on its schedule).
	queued time.Duration
	status int
	id     string
	failed bool
}

func main() {
	url := flag.String("url", "", "target URL")
	corpusPath := flag.String("corpus", "", "corpus file")
	rate := flag.Float64("rate", 1000, "requests per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	conns := flag.Int("conns", 64, "most requests in flight (connections)")
	runID := flag.String("run", "open", "prefix of the delivery ids")
	acceptedPath := flag.String("accepted", "", "file for the ids answered 202")
	flag.Parse()

	corpus, err := readCorpus(*corpusPath)
	if err != nil || len(corpus) == 0 {
		fmt.Fprintf(os.Stderr, "loadgen: corpus %s: %v\n", *corpusPath, err)
		os.Exit(2)
	}
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, DisableCompression: true,
		},
	}

	total := int(*rate * duration.Seconds())
	type job struct {
		n   int
		due time.Time
	}
	// Buffered for the whole run: a stalled server never slows the schedule.
	jobs := make(chan job, total)
	results := make(chan result, total)
	var workers sync.WaitGroup
	for w := 0; w < *conns; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range jobs {
				results <- send(client, *url, corpus[j.n%len(corpus)], fmt.Sprintf("%s-%d", *runID, j.n), j.due)
			}
		}()
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / *rate)
	for n := 0; n < total; n++ {
		due := start.Add(time.Duration(n) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- job{n, due}
	}
	close(jobs)
	workers.Wait()
	close(results)
	elapsed := time.Since(start)

	var latencies, queued []time.Duration
	var accepted, refused, failed int
	var ids []string
	for r := range results {
		switch {
		case r.failed:
			failed++
		case r.status == 202:
			accepted++
			ids = append(ids, r.id)
		default:
			refused++
		}
		if !r.failed {
			latencies = append(latencies, r.latency)
			queued = append(queued, r.queued)
		}
	}
	if *acceptedPath != "" {
		if err := os.WriteFile(*acceptedPath, []byte(strings.Join(ids, "\n")+"\n"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
			os.Exit(2)
		}
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	sort.Slice(queued, func(i, j int) bool { return queued[i] < queued[j] })
	out := map[string]any{
		"requests": total, "accepted": accepted, "refused": refused, "errors": failed,
		"duration_us": elapsed.Microseconds(), "target_rate": *rate,
		"p50_us": percentile(latencies, 50), "p90_us": percentile(latencies, 90),
		"p99_us": percentile(latencies, 99), "max_us": percentile(latencies, 100),
		"queued_p99_us": percentile(queued, 99),
	}
	encoded, _ := json.Marshal(out)
	fmt.Println(string(encoded))
}

func send(client *http.Client, url string, r request, delivery string, due time.Time) result {
	queued := time.Since(due)
	req, err := http.NewRequest("POST", url, bytes.NewReader(r.body))
	if err != nil {
		return result{failed: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", r.event)
	req.Header.Set("X-Hub-Signature-256", r.signature)
	req.Header.Set("X-GitHub-Delivery", delivery)
	resp, err := client.Do(req)
	if err != nil {
		return result{failed: true}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return result{latency: time.Since(due), queued: queued, status: resp.StatusCode, id: delivery}
}

func percentile(sorted []time.Duration, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1].Microseconds()
}

func readCorpus(path string) ([]request, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var out []request
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 1<<26)
	for scanner.Scan() {
		parts := strings.SplitN(scanner.Text(), "\t", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("malformed line %d", len(out)+1)
		}
		out = append(out, request{parts[0], parts[1], []byte(parts[2])})
	}
	return out, scanner.Err()
}
