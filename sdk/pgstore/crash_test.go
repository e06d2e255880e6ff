/*
Copyright 2026 The ordersaga-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package pgstore_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/gomega"

	"github.com/ordersaga/ordersaga-operator/sdk/internal/fakeoperator"
	"github.com/ordersaga/ordersaga-operator/sdk/internal/pgtest"
	"github.com/ordersaga/ordersaga-operator/sdk/internal/rabbittest"
	"github.com/ordersaga/ordersaga-operator/sdk/protocol"
)

// The crash test of issue #11: a participant process (internal/crashparticipant)
// is killed with SIGKILL in the middle of commands, 20 times, while the
// test, playing the operator, keeps 30 commands in flight; each time it is
// started again at once. Once every command is answered, the effects are
// counted per idempotency key in PostgreSQL. docs/reliability.md has the
// figures.

const (
	crashKills    = 20
	crashInFlight = 30
	// A process is killed at a random time within this after its first
	// handler made its effect (its start takes about half a second here).
	crashKillWithin = 400 * time.Millisecond
)

func TestAParticipantKilledInTheMiddleOfCommandsDoublesNoEffect(t *testing.T) {
	g := NewWithT(t)
	run := runCrashTest(t, "postgres")
	t.Logf("postgres store: %s", run)
	g.Expect(run.kills).To(Equal(crashKills))
	g.Expect(run.effects).To(HaveLen(run.sent), "every command took effect")
	g.Expect(run.doubled()).To(BeEmpty(), "no command took effect twice")
}

// The same crashes with the memory store, for comparison (the figures are
// in docs/reliability.md): a restarted process has forgotten what it did,
// and does again what was in progress. That it shows doubled effects is
// what proves the test above able to see them.
func TestWithTheMemoryStoreTheSameCrashesDoubleEffects(t *testing.T) {
	run := runCrashTest(t, "memory")
	t.Logf("memory store: %s", run)
	NewWithT(t).Expect(run.doubled()).NotTo(BeEmpty())
}

type crashRun struct {
	store       string
	sent, kills int
	interrupted int // handlers between their effect and their return at the kills

	took    time.Duration
	effects map[string]int // by idempotency key
}

// doubled returns the keys that took effect more than once.
func (r crashRun) doubled() map[string]int {
	out := map[string]int{}
	for key, n := range r.effects {
		if n > 1 {
			out[key] = n
		}
	}
	return out
}

func (r crashRun) String() string {
	extra := 0
	for _, n := range r.doubled() {
		extra += n - 1
	}
	return fmt.Sprintf("%d commands (%d in flight), %d kills in %s interrupting %d handlers after their effect: %d keys took effect, %d of them more than once (%d effects too many)",
		r.sent, crashInFlight, r.kills, r.took.Round(100*time.Millisecond), r.interrupted, len(r.effects), len(r.doubled()), extra)
}

func runCrashTest(t *testing.T, store string) crashRun {
	t.Helper()
	g := NewWithT(t)
	bin := filepath.Join(t.TempDir(), "crashparticipant")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ordersaga/ordersaga-operator/sdk/internal/crashparticipant").CombinedOutput(); err != nil {
		t.Fatalf("build crashparticipant: %v\n%s", err, out)
	}
	pool, dbURL := pgtest.NewPool(t, 2)
	_, err := pool.Exec(ctx, `CREATE TABLE effects (key text NOT NULL, message_id text NOT NULL, pid integer NOT NULL)`)
	g.Expect(err).NotTo(HaveOccurred())
	o := fakeoperator.New(t)
	o.DeclareQueue(t, "payment", "Charge")

	var stderr lockedBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("crashparticipant's standard error:\n%s", stderr.String())
		}
	})
	var proc *exec.Cmd
	var progress *inProgress
	start := func() {
		progress = &inProgress{keys: map[string]bool{}}
		proc = exec.Command(bin, "-broker", rabbittest.BrokerURL(), "-database", dbURL, "-exchange", o.Exchange, "-store", store)
		proc.Stdout, proc.Stderr = progress, &stderr
		g.Expect(proc.Start()).To(Succeed())
	}
	start()
	t.Cleanup(func() { _ = proc.Process.Kill(); _ = proc.Wait() })

	run := crashRun{store: store}
	began := time.Now()
	killAfter := rand.N(crashKillWithin)
	outstanding := map[string]bool{}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(90 * time.Second)
	for run.kills < crashKills || len(outstanding) > 0 {
		select {
		case <-timeout:
			t.Fatalf("after %d kills, %d commands still unanswered", run.kills, len(outstanding))
		case <-tick.C:
		}
		replies, err := o.Collect()
		g.Expect(err).NotTo(HaveOccurred())
		for _, r := range replies {
			g.Expect(r.Status).To(Equal(protocol.StatusSucceeded), "reply to %s: %+v", r.CorrelationID, r.Reply)
			delete(outstanding, r.CorrelationID)
		}
		for run.kills < crashKills && len(outstanding) < crashInFlight {
			run.sent++
			id := fmt.Sprintf("m-%d", run.sent)
			g.Expect(o.Send(fakeoperator.Command{ID: id, Service: "payment", Name: "Charge",
				SagaUID: uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "saga-%d", run.sent)).String(), Step: "charge", Deadline: time.Now().Add(10 * time.Minute)})).To(Succeed())
			outstanding[id] = true
		}
		// A kill is due, and a command has made its effect and not returned:
		// kill now, start again.
		if first := progress.firstEffect(); run.kills < crashKills && !first.IsZero() &&
			time.Since(first) > killAfter && progress.count() > 0 {
			run.interrupted += progress.count()
			g.Expect(proc.Process.Signal(syscall.SIGKILL)).To(Succeed())
			_ = proc.Wait() // "signal: killed"
			run.kills++
			start()
			killAfter = rand.N(crashKillWithin)
		}
	}
	g.Expect(proc.Process.Signal(syscall.SIGTERM)).To(Succeed())
	g.Expect(proc.Wait()).To(Succeed(), "the last process stops gracefully")
	run.took = time.Since(began)

	rows, err := pool.Query(ctx, `SELECT key, count(*) FROM effects GROUP BY key`)
	g.Expect(err).NotTo(HaveOccurred())
	defer rows.Close()
	run.effects = map[string]int{}
	for rows.Next() {
		var key string
		var n int
		g.Expect(rows.Scan(&key, &n)).To(Succeed())
		run.effects[key] = n
	}
	g.Expect(rows.Err()).NotTo(HaveOccurred())
	return run
}

// inProgress reads a crashparticipant's standard output ("effect <key>",
// "finished <key>") and keeps the keys whose handler has made its effect
// and not returned, and when the first effect was made.
type inProgress struct {
	mu      sync.Mutex
	partial []byte
	keys    map[string]bool
	first   time.Time
}

func (p *inProgress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		verb, key, _ := strings.Cut(string(p.partial[:i]), " ")
		switch verb {
		case "effect":
			p.keys[key] = true
			if p.first.IsZero() {
				p.first = time.Now()
			}
		case "finished":
			delete(p.keys, key)
		}
		p.partial = p.partial[i+1:]
	}
}

func (p *inProgress) firstEffect() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first
}

func (p *inProgress) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.keys)
}

// lockedBuffer is a bytes.Buffer that processes write to concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
