package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// The results file of extdir invite: a CSV of one line per input row,
// appended as each row finishes, that --resume reads back. Before a batch
// goes out its rows are appended with the status "sending" and the file is
// synced; the row's final line (created, failed) follows once the answer
// is in. A run that ends, finished or interrupted, drops the sending lines
// that have a final line; a sending line left over is a row whose request
// went out and whose answer never came, which --resume looks up by its
// phone number before it sends anything.

var resultColumns = []string{"row", "phoneNumber", "displayName", "status", "id", "httpStatus", "errorCode", "errorMessage", "requestId"}

// Row statuses.
const (
	statusCreated = "created"
	statusFailed  = "failed"
	statusSkipped = "skipped"
	statusSending = "sending"
)

// result is one line of the file.
type result struct {
	row       int
	phone     string
	name      string
	status    string
	id        string
	http      int
	code      string
	message   string
	requestID string
}

func (r result) record() []string {
	status := ""
	if r.http > 0 {
		status = strconv.Itoa(r.http)
	}
	return []string{strconv.Itoa(r.row), r.phone, r.name, r.status, r.id, status, r.code, r.message, r.requestID}
}

func parseResult(rec []string) (result, error) {
	if len(rec) != len(resultColumns) {
		return result{}, fmt.Errorf("%d cells where a results line has %d", len(rec), len(resultColumns))
	}
	row, err := strconv.Atoi(rec[0])
	if err != nil || row < 2 {
		return result{}, fmt.Errorf("row %q is not a row number", rec[0])
	}
	r := result{row: row, phone: rec[1], name: rec[2], status: rec[3], id: rec[4], code: rec[6], message: rec[7], requestID: rec[8]}
	if rec[5] != "" {
		if r.http, err = strconv.Atoi(rec[5]); err != nil {
			return result{}, fmt.Errorf("httpStatus %q is not a number", rec[5])
		}
	}
	switch r.status {
	case statusCreated, statusFailed, statusSkipped, statusSending:
	default:
		return result{}, fmt.Errorf("unknown status %q", r.status)
	}
	return r, nil
}

// resultsFile appends lines to the file; it is safe for concurrent use.
type resultsFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
	buf  bytes.Buffer
	w    *csv.Writer
}

// createResults starts a new file; it refuses to overwrite one, which may
// be the only record of an earlier run.
func createResults(path string) (*resultsFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, &usageError{msg: fmt.Sprintf("invite: %s exists: give --resume %s to finish the run it records, or another --out", path, path)}
	}
	if err != nil {
		return nil, fmt.Errorf("invite: %w", err)
	}
	rf := newResultsFile(path, f)
	rf.w.Write(resultColumns)
	if err := rf.flush(true); err != nil {
		f.Close()
		return nil, err
	}
	return rf, nil
}

// appendResults continues a file that rewriteResults has just written.
func appendResults(path string) (*resultsFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("invite: %w", err)
	}
	return newResultsFile(path, f), nil
}

func newResultsFile(path string, f *os.File) *resultsFile {
	rf := &resultsFile{path: path, f: f}
	rf.w = csv.NewWriter(&rf.buf)
	return rf
}

// write appends the lines in one write; durable syncs the file before it
// returns, as the sending lines need.
func (rf *resultsFile) write(durable bool, rs ...result) error {
	if rf == nil || len(rs) == 0 {
		return nil
	}
	rf.mu.Lock()
	defer rf.mu.Unlock()
	for _, r := range rs {
		rf.w.Write(r.record())
	}
	return rf.flush(durable)
}

func (rf *resultsFile) flush(durable bool) error {
	rf.w.Flush()
	_, err := rf.f.Write(rf.buf.Bytes())
	rf.buf.Reset()
	if err == nil && durable {
		err = rf.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("invite: results file: %w", err)
	}
	return nil
}

// close syncs and closes the file, then drops the sending lines that a
// final line followed.
func (rf *resultsFile) close() error {
	if rf == nil {
		return nil
	}
	err := rf.f.Sync()
	if cerr := rf.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("invite: results file: %w", err)
	}
	return compactResults(rf.path)
}

// readResults calls fn for each line of a results file after checking its
// header.
func readResults(path string, fn func(result) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil || !strings.EqualFold(strings.Join(head, ","), strings.Join(resultColumns, ",")) {
		return fmt.Errorf("%s is not a results file of extdir invite: its header is not %s", path, strings.Join(resultColumns, ","))
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			// A line cut short by a kill is the file's last: the run
			// that was killed wrote it, and its row counts as not done.
			if _, more := r.Read(); errors.Is(more, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s line %d: %v", path, line, err)
		}
		res, err := parseResult(rec)
		if err != nil {
			if _, more := r.Read(); errors.Is(more, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s line %d: %v", path, line, err)
		}
		if err := fn(res); err != nil {
			return err
		}
	}
}

// rewriteResults writes dst anew, atomically, with the header, the lines of
// src that keep (keep says which), and extra; src may be dst.
func rewriteResults(src, dst string, keep func(result) bool, extra []result) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".extdir-results-*")
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 64<<10)
	w := csv.NewWriter(bw)
	w.Write(resultColumns)
	err = readResults(src, func(r result) error {
		if keep(r) {
			return w.Write(r.record())
		}
		return nil
	})
	for _, r := range extra {
		w.Write(r.record())
	}
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return fmt.Errorf("invite: rewrite %s: %w", dst, err)
	}
	return nil
}

// compactResults drops the sending lines of rows that have a final line.
func compactResults(path string) error {
	var final bitset
	if err := readResults(path, func(r result) error {
		if r.status != statusSending {
			final.add(r.row)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	return rewriteResults(path, path, func(r result) bool {
		return r.status != statusSending || !final.has(r.row)
	}, nil)
}

// priorRun is what a results file says of the rows.
type priorRun struct {
	created  map[int]uint64 // rows invited: the phoneKey of the number sent
	inflight []result       // rows whose request went out with no answer recorded
}

// readPriorRun reads the file --resume names: the last line of a row is
// its state.
func readPriorRun(path string) (*priorRun, error) {
	last := map[int]result{}
	err := readResults(path, func(r result) error {
		if r.status != statusCreated && r.status != statusSending {
			delete(last, r.row)
			return nil
		}
		last[r.row] = result{row: r.row, phone: r.phone, name: r.name, status: r.status}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p := &priorRun{created: map[int]uint64{}}
	for row, r := range last {
		if r.status == statusCreated {
			p.created[row] = phoneKey(r.phone)
		} else {
			p.inflight = append(p.inflight, r)
		}
	}
	return p, nil
}
