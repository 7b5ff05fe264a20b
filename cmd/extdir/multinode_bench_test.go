package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/extdir/extdir/internal/procstat"
	"github.com/extdir/extdir/store/postgres/pgtest"
)

// benchCluster is a deployment under load: its nodes' base URLs, a token
// they all accept and the ids of profiles seeded for reads.
type benchCluster struct {
	procs []*proc
	bases []string
	token string
	ids   []string
}

// startBenchCluster starts n nodes on a new database, sharing a data
// directory, each with the extra environment, and seeds 1,000 profiles.
func startBenchCluster(b *testing.B, bin string, n int, env []string) *benchCluster {
	b.Helper()
	db := pgtest.NewDatabase(b)
	dir := b.TempDir()
	c := &benchCluster{}
	c.procs, _ = startNodes(b, bin, dir, n, env, "--database", db)
	for _, p := range c.procs {
		c.bases = append(c.bases, p.base)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"token", "--data-dir", dir, "--ttl", "24h"}, noEnv, &out, io.Discard); err != nil {
		b.Fatal(err)
	}
	c.token = strings.TrimSpace(out.String())
	client := benchClient()
	for i := range 1000 {
		status, body, err := send(client, "POST", c.bases[i%n]+pendingPath, c.token,
			fmt.Sprintf(`{"displayName":"Seed %04d","phoneNumber":"+1666%07d","companyName":"Contoso"}`, i, i))
		var m struct{ ID string }
		if err != nil || status != 201 || json.Unmarshal(body, &m) != nil {
			b.Fatalf("seed: %d %s %v", status, body, err)
		}
		c.ids = append(c.ids, m.ID)
	}
	return c
}

// stop ends the nodes, and with them their connections to the database,
// before the next cluster starts.
func (c *benchCluster) stop() {
	for _, p := range c.procs {
		_ = p.cmd.Process.Kill()
		<-p.exit
	}
}

// cpuTime is the CPU time, user and system, that the parts of a benchmark
// have used so far: the nodes, the PostgreSQL server (all of its
// processes, so other users of the server count too) and this process, the
// load generator.
type cpuTime struct{ nodes, postgres, client time.Duration }

// cpuNow reads the CPU times from /proc; on a system without it they stay
// zero and cpuReport reports nothing.
func cpuNow(c *benchCluster) cpuTime {
	var t cpuTime
	for _, p := range c.procs {
		t.nodes += processCPU(p.cmd.Process.Pid)
	}
	t.client = processCPU(os.Getpid())
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm")); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			t.postgres += processCPU(pid)
		}
	}
	return t
}

// processCPU is utime+stime of a process, or 0 where it cannot be read.
func processCPU(pid int) time.Duration {
	d, _ := procstat.CPUTime(pid)
	return d
}

// cpuReport adds the CPU cost of one request in each part, in microseconds:
// what one core's worth of a part serves is 1e6 divided by it.
func cpuReport(b *testing.B, before, after cpuTime) {
	if after.client == 0 {
		return
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(after.nodes-before.nodes), "node-cpu-µs/req")
	b.ReportMetric(per(after.postgres-before.postgres), "pg-cpu-µs/req")
	b.ReportMetric(per(after.client-before.client), "client-cpu-µs/req")
}

// benchClient keeps enough idle connections that the load never waits for
// a new one.
func benchClient() *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128},
	}
}

// BenchmarkClusterThroughput puts the same concurrent load (32 clients,
// spread evenly over the nodes) on one node and on two nodes of one
// database, all on this machine: the database, the nodes and the load
// generator share its cores. ns/op is the wall time per request at that
// concurrency; req/s is its inverse. "cores=1" runs each node with
// GOMAXPROCS=1, a node per core, which shows the shape of scaling out when
// the nodes do not compete for the same cores as freely.
//
//	go test ./cmd/extdir/ -run XXX -bench ClusterThroughput -benchtime 10s
func BenchmarkClusterThroughput(b *testing.B) {
	if testing.Short() {
		b.Skip("starts processes")
	}
	pgtest.ServerURL(b)
	bin := filepath.Join(b.TempDir(), "extdir")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	var phones atomic.Int64
	get := func(c *benchCluster, client *http.Client, base string, i int) (int, error) {
		status, _, err := send(client, "GET", base+pendingPath+"/"+c.ids[i%len(c.ids)], c.token, "")
		return status, err
	}
	list := func(c *benchCluster, client *http.Client, base string, i int) (int, error) {
		status, _, err := send(client, "GET", base+pendingPath+"?$top=20&$filter=startswith(displayName,'Seed%200')", c.token, "")
		return status, err
	}
	create := func(c *benchCluster, client *http.Client, base string, i int) (int, error) {
		n := phones.Add(1)
		status, _, err := send(client, "POST", base+pendingPath, c.token,
			fmt.Sprintf(`{"displayName":"Load %d","phoneNumber":"+1777%07d"}`, n, n))
		return status, err
	}
	patch := func(c *benchCluster, client *http.Client, base string, i int) (int, error) {
		status, _, err := send(client, "PATCH", base+pendingPath+"/"+c.ids[i%len(c.ids)], c.token,
			fmt.Sprintf(`{"jobTitle":"Title %d"}`, i))
		return status, err
	}
	ops := []struct {
		name string
		do   func(c *benchCluster, client *http.Client, base string, i int) (int, error)
		want func(i int) int
	}{
		{"get", get, func(int) int { return 200 }},
		{"list", list, func(int) int { return 200 }},
		{"create", create, func(int) int { return 201 }},
		// bench/load's realistic mix: of every 20 requests, 14 GETs, 4
		// lists, one PATCH and one create.
		{"mix", func(c *benchCluster, client *http.Client, base string, i int) (int, error) {
			switch i % 20 {
			case 0:
				return create(c, client, base, i)
			case 1:
				return patch(c, client, base, i)
			case 2, 3, 4, 5:
				return list(c, client, base, i)
			}
			return get(c, client, base, i)
		}, func(i int) int {
			switch i % 20 {
			case 0:
				return 201
			case 1:
				return 204
			}
			return 200
		}},
	}
	for _, cores := range []string{"all", "1"} {
		var env []string
		if cores == "1" {
			env = []string{"GOMAXPROCS=1"}
		}
		for _, nodes := range []int{1, 2} {
			c := startBenchCluster(b, bin, nodes, env)
			for _, op := range ops {
				b.Run(fmt.Sprintf("cores=%s/nodes=%d/%s", cores, nodes, op.name), func(b *testing.B) {
					client := benchClient()
					var next atomic.Int64
					b.SetParallelism(16)
					before := cpuNow(c)
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							i := int(next.Add(1))
							status, err := op.do(c, client, c.bases[i%nodes], i)
							if err != nil || status != op.want(i) {
								b.Errorf("%s: %d, %v", op.name, status, err)
								return
							}
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
					cpuReport(b, before, cpuNow(c))
				})
			}
			c.stop()
		}
	}
}
