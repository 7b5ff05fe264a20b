package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/store"
)

// The operations of store.Store, as the operation label and the span names
// spell them.
const (
	opCreate = iota
	opGet
	opUpdate
	opPurge
	opList
	opCount
	opExpire
	opImport
	opReset
	opExport
	opPing
	opListAudits
	opGetAudit
	opExpireAudits
	numOps
)

var opNames = [numOps]string{"create", "get", "update", "purge", "list", "count", "expire", "import", "reset", "export", "ping", "list_audits", "get_audit", "expire_audits"}

// spanNames are "store.<operation>", made once.
var spanNames = func() (out [numOps]string) {
	for i, n := range opNames {
		out[i] = "store." + n
	}
	return out
}()

// Store wraps st so that each call is timed by operation and backend and,
// with traces on, is a span of its own under the request's. It returns st
// itself when t measures nothing. The wrapper is a thin forwarder: it
// changes no argument and no result, and it hides st's optional interfaces
// (store.Stats and the like); Unwrap returns st for those.
func (t *Telemetry) Store(st store.Store) store.Store {
	if t == nil {
		return st
	}
	backend := "unknown"
	if s, ok := st.(store.Stats); ok {
		backend = s.Backend()
	}
	w := &instrumented{next: st, tracer: t.tracer}
	if t.m != nil {
		for i := range numOps {
			w.latency[i] = t.m.storeDuration.WithLabelValues(opNames[i], backend)
		}
		w.metrics = true
	}
	if t.tracer != nil {
		system := attribute.String(string(semconv.DBSystemNameKey), backend)
		switch backend {
		case "sqlite":
			system = semconv.DBSystemNameSQLite
		case "postgres":
			system = semconv.DBSystemNamePostgreSQL
		}
		for i := range numOps {
			w.attrs[i] = trace.WithAttributes(system, semconv.DBOperationName(opNames[i]))
		}
	}
	return w
}

// instrumented is the wrapper of Telemetry.Store.
type instrumented struct {
	next    store.Store
	metrics bool
	latency [numOps]prometheus.Observer
	tracer  trace.Tracer // nil: no spans
	attrs   [numOps]trace.SpanStartEventOption
}

var _ store.Store = (*instrumented)(nil)

// Unwrap returns the wrapped store.
func (s *instrumented) Unwrap() store.Store { return s.next }

// begin starts the timing of an operation, and its span under ctx's.
func (s *instrumented) begin(ctx context.Context, op int) (context.Context, time.Time) {
	var start time.Time
	if s.metrics {
		start = time.Now()
	}
	if s.tracer != nil {
		ctx, _ = s.tracer.Start(ctx, spanNames[op], trace.WithSpanKind(trace.SpanKindClient), s.attrs[op])
	}
	return ctx, start
}

// end records what begin started.
func (s *instrumented) end(ctx context.Context, op int, start time.Time, err error) {
	if s.metrics {
		s.latency[op].Observe(time.Since(start).Seconds())
	}
	if s.tracer != nil {
		span := trace.SpanFromContext(ctx)
		if err != nil && !expected(err) {
			recordError(span, err)
		}
		span.End()
	}
}

// expected reports the errors that are answers, not failures: a profile
// not found, a phone number taken, a precondition that failed. They are
// the caller's business, and a trace that marked them would hide the
// store's real failures among them.
func expected(err error) bool {
	code := extdir.ErrorCode(err)
	return code != extdir.EInternal && code != extdir.EUnavailable
}

func (s *instrumented) Create(ctx context.Context, p *extdir.Profile, rec *extdir.AuditRecord) error {
	ctx, start := s.begin(ctx, opCreate)
	err := s.next.Create(ctx, p, rec)
	s.end(ctx, opCreate, start, err)
	return err
}

func (s *instrumented) Get(ctx context.Context, tenant, id string) (*extdir.Profile, error) {
	ctx, start := s.begin(ctx, opGet)
	p, err := s.next.Get(ctx, tenant, id)
	s.end(ctx, opGet, start, err)
	return p, err
}

func (s *instrumented) Update(ctx context.Context, tenant, id string, fn func(p *extdir.Profile) (*extdir.AuditRecord, error)) (*extdir.Profile, error) {
	ctx, start := s.begin(ctx, opUpdate)
	p, err := s.next.Update(ctx, tenant, id, fn)
	s.end(ctx, opUpdate, start, err)
	return p, err
}

func (s *instrumented) Purge(ctx context.Context, tenant, id string, fn func(p *extdir.Profile) (*extdir.AuditRecord, error)) error {
	ctx, start := s.begin(ctx, opPurge)
	err := s.next.Purge(ctx, tenant, id, fn)
	s.end(ctx, opPurge, start, err)
	return err
}

func (s *instrumented) List(ctx context.Context, q store.Query) (store.Page, error) {
	ctx, start := s.begin(ctx, opList)
	page, err := s.next.List(ctx, q)
	s.end(ctx, opList, start, err)
	return page, err
}

func (s *instrumented) Count(ctx context.Context, q store.Query) (int64, error) {
	ctx, start := s.begin(ctx, opCount)
	n, err := s.next.Count(ctx, q)
	s.end(ctx, opCount, start, err)
	return n, err
}

func (s *instrumented) Expire(ctx context.Context, deletedBefore time.Time, rec func(p *extdir.Profile) *extdir.AuditRecord) (int64, error) {
	ctx, start := s.begin(ctx, opExpire)
	n, err := s.next.Expire(ctx, deletedBefore, rec)
	s.end(ctx, opExpire, start, err)
	return n, err
}

func (s *instrumented) Import(ctx context.Context, profiles []*extdir.Profile, recs []*extdir.AuditRecord) error {
	ctx, start := s.begin(ctx, opImport)
	err := s.next.Import(ctx, profiles, recs)
	s.end(ctx, opImport, start, err)
	return err
}

func (s *instrumented) Reset(ctx context.Context, tenant string) (int64, error) {
	ctx, start := s.begin(ctx, opReset)
	n, err := s.next.Reset(ctx, tenant)
	s.end(ctx, opReset, start, err)
	return n, err
}

// Export is timed from its start to its end, fn's work (the client reading
// the stream) included.
func (s *instrumented) Export(ctx context.Context, tenant string, fn func(p *extdir.Profile) error) error {
	ctx, start := s.begin(ctx, opExport)
	err := s.next.Export(ctx, tenant, fn)
	s.end(ctx, opExport, start, err)
	return err
}

func (s *instrumented) ListAudits(ctx context.Context, q store.AuditQuery) (store.AuditPage, error) {
	ctx, start := s.begin(ctx, opListAudits)
	page, err := s.next.ListAudits(ctx, q)
	s.end(ctx, opListAudits, start, err)
	return page, err
}

func (s *instrumented) GetAudit(ctx context.Context, tenant, id string) (*extdir.AuditRecord, error) {
	ctx, start := s.begin(ctx, opGetAudit)
	r, err := s.next.GetAudit(ctx, tenant, id)
	s.end(ctx, opGetAudit, start, err)
	return r, err
}

func (s *instrumented) ExpireAudits(ctx context.Context, before time.Time) (int64, error) {
	ctx, start := s.begin(ctx, opExpireAudits)
	n, err := s.next.ExpireAudits(ctx, before)
	s.end(ctx, opExpireAudits, start, err)
	return n, err
}

func (s *instrumented) Ping(ctx context.Context) error {
	ctx, start := s.begin(ctx, opPing)
	err := s.next.Ping(ctx)
	s.end(ctx, opPing, start, err)
	return err
}

// Close is not timed: it happens once.
func (s *instrumented) Close() error { return s.next.Close() }
