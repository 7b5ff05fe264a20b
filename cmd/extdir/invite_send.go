package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// How a batch is sent and retried. Each row of a batch ends in one of
// three ways: created, failed (a 4xx, or retries used up), or unknown.
// What an answer says of a row decides what happens next:
//
//   - 201: created.
//   - 429 or 503, inner or for the whole batch: the request was not run;
//     it is sent again after its Retry-After (or the backoff without one).
//   - another 5xx, a network error, a time-out, an inner answer missing:
//     the request may have run. The row is looked up by phone number
//     before it is sent again, so that a create that landed is never sent
//     twice; then the backoff (capped exponential, with jitter).
//   - any other 4xx: failed, never retried. A 401 or 403 for the whole
//     batch also stops the run: every other batch would get it too.

// outcome is what one answer said of one row.
type outcome int

const (
	outDone    outcome = iota // final: the row's line is written
	outRetry                  // not run: send again
	outUnknown                // may have run: look up, then send again
)

// runBatch sends a batch until every row has an outcome, or the run stops.
func (s *sender) runBatch(rows []*sendRow) {
	marks := make([]result, len(rows))
	for i, r := range rows {
		marks[i] = result{row: r.line, phone: r.phone, name: r.name, status: statusSending}
	}
	if err := s.results.write(true, marks...); err != nil {
		s.fatal(err)
		return
	}
	pending, unknown := rows, []*sendRow(nil)
	attempts := 0 // posts, and look-ups that failed
	var wait time.Duration
	for {
		if len(pending) > 0 {
			outs, after := s.post(pending)
			attempts++
			pending = nil
			for _, o := range outs {
				switch o.row.last = o.res; o.kind {
				case outDone:
					s.finish(o.res)
				case outRetry:
					pending = append(pending, o.row)
				case outUnknown:
					unknown = append(unknown, o.row)
				}
			}
			wait = after
			if wait == 0 {
				wait = backoff(attempts)
			}
		}
		if len(pending)+len(unknown) == 0 || attempts > s.retries || !s.sleep(wait) {
			break
		}
		if len(unknown) > 0 {
			var ok bool
			if pending, ok = s.settle(unknown, pending); ok {
				unknown = nil
			} else {
				attempts++
				wait = backoff(attempts)
			}
		}
	}
	// Out of attempts (or stopped) with rows that may have been created:
	// one more look-up says which were.
	if len(unknown) > 0 {
		if notFound, ok := s.settle(unknown, nil); ok {
			unknown, pending = nil, append(pending, notFound...)
		}
	}
	why := fmt.Sprintf("Not sent again after %d attempts.", attempts)
	if s.stop.Err() != nil {
		why = "Not sent again: the run stopped first."
	}
	for _, r := range pending {
		res := r.last
		res.status = statusFailed
		res.message = strings.TrimSpace(res.message + " " + why)
		s.finish(res)
	}
	// A row whose answer never came and that no look-up found keeps its
	// sending line: --resume looks it up again.
	s.mu.Lock()
	s.unknown += len(unknown)
	s.mu.Unlock()
}

// settle looks up rows that may have been created: those found are
// created, the others are appended to pending. ok is false when the
// look-up failed and says nothing.
func (s *sender) settle(unknown, pending []*sendRow) ([]*sendRow, bool) {
	found, err := s.lookup(unknown)
	if err != nil {
		return pending, false
	}
	for _, r := range unknown {
		if id, ok := found[r.line]; ok {
			s.finish(result{row: r.line, phone: r.phone, name: r.name, status: statusCreated, id: id,
				http: r.last.http, code: r.last.code, requestID: r.last.requestID,
				message: "Created: found by its phoneNumber after the answer to its create was lost."})
		} else {
			pending = append(pending, r)
		}
	}
	return pending, true
}

// finish writes a row's final line.
func (s *sender) finish(r result) {
	if err := s.results.write(false, r); err != nil {
		s.fatal(err)
	}
	s.prog.add(r.status)
}

// sleep waits d, or less when the run stops; it reports whether to go on.
func (s *sender) sleep(d time.Duration) bool {
	if s.stop.Err() != nil {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stop.Done():
		return false
	}
}

// backoff is the capped exponential backoff with jitter after the nth
// attempt: half of the step for sure, the other half at random.
func backoff(n int) time.Duration {
	d := backoffCap
	if n < 20 {
		d = min(backoffBase<<n, backoffCap)
	}
	return d/2 + rand.N(d/2+1)
}

// rowOutcome is the outcome of one row in one answer.
type rowOutcome struct {
	row  *sendRow
	kind outcome
	res  result
}

// batchAnswer is a $batch response.
type batchBody struct {
	Responses []struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

// post sends the rows as one $batch of creates. after is the longest
// Retry-After among the answers.
func (s *sender) post(rows []*sendRow) ([]rowOutcome, time.Duration) {
	body := batchOf(rows)
	// The request in flight finishes even when the run is stopped: its
	// answer is what tells whether the rows were created.
	resp, err := s.c.do(context.WithoutCancel(s.stop), "POST", "/$batch", body, nil)
	outs := make([]rowOutcome, len(rows))
	all := func(kind outcome, res result) {
		for i, r := range rows {
			rr := res
			rr.row, rr.phone, rr.name = r.line, r.phone, r.name
			outs[i] = rowOutcome{row: r, kind: kind, res: rr}
		}
	}
	var signIn *signInError
	switch {
	case errors.As(err, &signIn):
		s.fatal(err)
		all(outRetry, result{status: statusFailed, message: err.Error()})
		return outs, 0
	case err != nil:
		all(outUnknown, result{status: statusFailed, message: "No answer: " + err.Error()})
		return outs, 0
	}
	reqID := resp.header.Get("request-id")
	after, hasAfter := retryAfter(resp.header.Get("Retry-After"), time.Now())
	after = min(after, maxRetryAfter)
	if resp.status != http.StatusOK {
		ge := parseGraphError(resp.body)
		res := result{status: statusFailed, http: resp.status, code: ge.Code, message: ge.Message, requestID: firstOf(ge.InnerError.RequestID, reqID)}
		switch {
		case resp.status == http.StatusTooManyRequests || resp.status == http.StatusServiceUnavailable:
			all(outRetry, res)
		case resp.status >= 500:
			all(outUnknown, res)
		case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden:
			s.fatal(fmt.Errorf("the API refused the batch: %d %s: %s", resp.status, ge.Code, ge.Message))
			all(outDone, res)
		default:
			all(outDone, res)
		}
		if !hasAfter {
			after = 0
		}
		return outs, after
	}
	var bb batchBody
	if err := json.Unmarshal(resp.body, &bb); err != nil {
		all(outUnknown, result{status: statusFailed, http: resp.status, message: "The batch's answer is not JSON.", requestID: reqID})
		return outs, 0
	}
	byID := make(map[string]int, len(bb.Responses))
	for i, r := range bb.Responses {
		byID[r.ID] = i
	}
	after = 0
	for i, r := range rows {
		res := result{row: r.line, phone: r.phone, name: r.name, status: statusFailed, requestID: reqID}
		j, ok := byID[strconv.Itoa(r.line)]
		if !ok {
			res.message = "The batch's answer has no response for this row."
			outs[i] = rowOutcome{row: r, kind: outUnknown, res: res}
			continue
		}
		inner := bb.Responses[j]
		res.http = inner.Status
		if inner.Status == http.StatusCreated {
			var created struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(inner.Body, &created)
			res.status, res.id = statusCreated, created.ID
			outs[i] = rowOutcome{row: r, kind: outDone, res: res}
			continue
		}
		ge := parseGraphError(inner.Body)
		res.code, res.message, res.requestID = ge.Code, ge.Message, firstOf(ge.InnerError.RequestID, reqID)
		kind := outDone
		switch {
		case inner.Status == http.StatusTooManyRequests || inner.Status == http.StatusServiceUnavailable:
			kind = outRetry
		case inner.Status >= 500:
			kind = outUnknown
		}
		if kind != outDone {
			if d, ok := retryAfter(header(inner.Headers, "Retry-After"), time.Now()); ok {
				after = max(after, min(d, maxRetryAfter))
			}
		}
		outs[i] = rowOutcome{row: r, kind: kind, res: res}
	}
	return outs, after
}

// batchOf renders the $batch body: each row a create whose id is its line.
func batchOf(rows []*sendRow) []byte {
	b := []byte(`{"requests":[`)
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"`...)
		b = strconv.AppendInt(b, int64(r.line), 10)
		b = append(b, `","method":"POST","url":"`+pendingURL+`","headers":{"Content-Type":"application/json"},"body":`...)
		b = append(b, r.body...)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// header finds a header of an inner response, whatever its case.
func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// lookupsPerBatch is how many rows one look-up batch holds: two requests
// each, one per collection (a pending profile may have been redeemed since).
const lookupsPerBatch = maxBatch / 2

// lookup finds, by phone number, the profiles of the rows: the id of each
// row that has one. Every answer must come: an error says nothing of any
// row.
func (s *sender) lookup(rows []*sendRow) (map[int]string, error) {
	found := map[int]string{}
	for start := 0; start < len(rows); start += lookupsPerBatch {
		chunk := rows[start:min(start+lookupsPerBatch, len(rows))]
		b := []byte(`{"requests":[`)
		for i, r := range chunk {
			filter := "?$filter=" + strings.ReplaceAll(url.QueryEscape("phoneNumber eq '"+r.phone+"'"), "+", "%20") + "&$select=id"
			for k, coll := range []string{pendingURL, externalURL} {
				if i > 0 || k > 0 {
					b = append(b, ',')
				}
				b = fmt.Appendf(b, `{"id":"%c%d","method":"GET","url":%q}`, "pe"[k], r.line, coll+filter)
			}
		}
		b = append(b, "]}"...)
		resp, err := s.c.do(context.WithoutCancel(s.stop), "POST", "/$batch", b, nil)
		if err != nil {
			return nil, err
		}
		if resp.status != http.StatusOK {
			ge := parseGraphError(resp.body)
			return nil, fmt.Errorf("look-up by phone number: %d %s: %s", resp.status, ge.Code, ge.Message)
		}
		var bb batchBody
		if err := json.Unmarshal(resp.body, &bb); err != nil {
			return nil, errors.New("look-up by phone number: the batch's answer is not JSON")
		}
		if len(bb.Responses) != 2*len(chunk) {
			return nil, fmt.Errorf("look-up by phone number: %d answers to %d requests", len(bb.Responses), 2*len(chunk))
		}
		for _, inner := range bb.Responses {
			if inner.Status != http.StatusOK {
				ge := parseGraphError(inner.Body)
				return nil, fmt.Errorf("look-up by phone number: %d %s: %s", inner.Status, ge.Code, ge.Message)
			}
			var list struct {
				Value []struct {
					ID string `json:"id"`
				} `json:"value"`
			}
			if err := json.Unmarshal(inner.Body, &list); err != nil {
				return nil, errors.New("look-up by phone number: an answer is not a list")
			}
			line, err := strconv.Atoi(strings.TrimLeft(inner.ID, "pe"))
			if err != nil {
				return nil, fmt.Errorf("look-up by phone number: an answer with the unknown id %q", inner.ID)
			}
			if len(list.Value) > 0 {
				found[line] = list.Value[0].ID
			}
		}
	}
	return found, nil
}

// resolveInflight settles the rows whose request was in flight when the
// last run stopped: the ones found by phone number were created (their
// lines are returned); the others are sent again.
func (s *sender) resolveInflight(prior *priorRun) ([]result, error) {
	if len(prior.inflight) == 0 {
		return nil, nil
	}
	rows := make([]*sendRow, len(prior.inflight))
	for i, r := range prior.inflight {
		rows[i] = &sendRow{inviteRow: inviteRow{line: r.row, phone: r.phone, name: r.name}}
	}
	var err error
	for attempt := 0; attempt <= s.retries; attempt++ {
		if attempt > 0 && !s.sleep(backoff(attempt)) {
			break
		}
		var found map[int]string
		if found, err = s.lookup(rows); err == nil {
			var out []result
			for _, r := range rows {
				if id, ok := found[r.line]; ok {
					out = append(out, result{row: r.line, phone: r.phone, name: r.name, status: statusCreated, id: id,
						message: "Created: found by its phoneNumber on resume (its create was in flight when the run stopped)."})
				}
			}
			return out, nil
		}
	}
	if err == nil {
		err = s.stop.Err()
	}
	return nil, fmt.Errorf("invite: could not look up the %d rows in flight when the last run stopped, so nothing was sent: %s", len(rows), oneLine(err))
}

// summary prints the closing lines and turns the run's end into the
// command's error: nil only when every row of the file is invited.
func (s *sender) summary(w io.Writer, v *validation, recovered int, out string, sendErr, cause error, interrupted bool) error {
	p := s.prog
	elapsed := time.Since(p.start).Round(10 * time.Millisecond)
	created, failed, skipped := p.created.Load(), p.failed.Load(), p.skipped.Load()
	notSent := int64(v.toSend-recovered) - created - failed - int64(s.unknown)
	fmt.Fprintf(w, "Done in %s (%.0f rows/s): %d created, %d failed, %d skipped", elapsed, p.rate(), created, failed, skipped)
	if s.unknown > 0 {
		fmt.Fprintf(w, ", %d unknown (sent, no answer)", s.unknown)
	}
	if notSent > 0 {
		fmt.Fprintf(w, ", %d not sent", notSent)
	}
	if before := v.done + recovered; before > 0 {
		fmt.Fprintf(w, "; %d created by the earlier run", before)
	}
	fmt.Fprintln(w, ".")
	if out != "" {
		fmt.Fprintf(w, "Results: %s\n", out)
	}
	resume := ""
	if out != "" {
		resume = "; --resume " + out + " sends the rest"
	}
	switch {
	case sendErr != nil:
		return sendErr
	case interrupted:
		return fmt.Errorf("invite: interrupted%s", resume)
	case cause != nil && !errors.Is(cause, context.Canceled):
		return fmt.Errorf("invite: stopped: %s%s", oneLine(cause), resume)
	case failed+int64(s.unknown)+max(notSent, 0) > 0:
		return fmt.Errorf("invite: not every row was invited: %d failed, %d unknown, %d not sent%s", failed, s.unknown, max(notSent, 0), resume)
	case skipped > 0:
		return fmt.Errorf("invite: %d rows were skipped as invalid or duplicate: fix them and run again (with --resume, only they are sent)", skipped)
	}
	return nil
}
