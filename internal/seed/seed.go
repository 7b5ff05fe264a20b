// Package seed generates large, deterministic directories for benchmarks and
// load tests: the same call always yields the same profiles, so figures
// taken on different days compare.
package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/extdir/extdir"
)

// Shape says how many profiles each tenant gets.
type Shape struct {
	// Tenant is the tenant under test and Profiles its size.
	Tenant   string
	Profiles int
	// OtherTenants each get OtherProfiles profiles, so that every query has
	// rows of other tenants to skip.
	OtherTenants  int
	OtherProfiles int
}

// Companies and Supervisors are how many distinct values companyName and
// supervisorId take: 1 % and 0.01 % of the rows share one.
const (
	Companies   = 100
	Supervisors = 10000
)

// Company is the companyName of row i.
func Company(i int) string { return fmt.Sprintf("Company %03d", i%Companies) }

// Supervisor is the supervisorId of row i.
func Supervisor(i int) string { return fmt.Sprintf("sup-%05d", i%Supervisors) }

// Profile is row i of a tenant: an invitation (extdir.NewPending) created
// i seconds after created, with deterministic properties on top. Phone
// numbers are unique per tenant; every other row is not discoverable.
func Profile(tenant string, i int, created time.Time) *extdir.Profile {
	company, supervisor := Company(i), Supervisor(i)
	p := extdir.NewPending(tenant, fmt.Sprintf("%08x-0000-4000-8000-%012x", hash(tenant), i), "seed", created.Add(time.Duration(i)*time.Second))
	p.DisplayName = fmt.Sprintf("User %07d", i)
	p.PhoneNumber = fmt.Sprintf("+1%010d", i)
	p.CompanyName = &company
	p.SupervisorID = &supervisor
	p.IsDiscoverable = i%2 == 0
	return p
}

func hash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// Importer takes profiles in batches, in one transaction each.
type Importer interface {
	Import(ctx context.Context, profiles []*extdir.Profile, recs []*extdir.AuditRecord) error
}

// Run writes the shape through imp in batches of batch profiles; progress,
// if not nil, is told how many rows are done.
func Run(ctx context.Context, imp Importer, shape Shape, batch int, progress func(done, total int)) error {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	total := shape.Profiles + shape.OtherTenants*shape.OtherProfiles
	done := 0
	write := func(tenant string, n int) error {
		buf := make([]*extdir.Profile, 0, batch)
		for i := range n {
			buf = append(buf, Profile(tenant, i, created))
			if len(buf) == batch || i == n-1 {
				if err := imp.Import(ctx, buf, nil); err != nil {
					return fmt.Errorf("seed %s: %w", tenant, err)
				}
				done += len(buf)
				buf = buf[:0]
				if progress != nil {
					progress(done, total)
				}
			}
		}
		return nil
	}
	for t := range shape.OtherTenants {
		if err := write(fmt.Sprintf("other-tenant-%d", t), shape.OtherProfiles); err != nil {
			return err
		}
	}
	return write(shape.Tenant, shape.Profiles)
}
