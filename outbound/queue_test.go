package outbound

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/testerd/testerd/outbound/mxtest"
	"github.com/testerd/testerd/store"
)

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func enqueue(t *testing.T, st *store.Store, to string) *store.Outgoing {
	t.Helper()
	o := &store.Outgoing{ID: store.NewID(), Created: time.Now(), State: store.Queued, Rcpt: to,
		RcptDomain: to[strings.IndexByte(to, '@')+1:], Data: msg.Data}
	if err := st.Enqueue(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return o
}

// runQueue starts q and returns the outcomes of its attempts and a stop
// function that waits for Run to return.
func runQueue(t *testing.T, q *Queue) (<-chan store.Outgoing, func()) {
	t.Helper()
	done := make(chan store.Outgoing, 100)
	q.Done = func(o *store.Outgoing) { done <- *o }
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { q.Run(ctx); close(stopped) }()
	q.Notify()
	stop := func() { cancel(); <-stopped }
	t.Cleanup(stop)
	return done, stop
}

func next(t *testing.T, c <-chan store.Outgoing) store.Outgoing {
	t.Helper()
	select {
	case o := <-c:
		return o
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery attempt recorded")
	}
	panic("unreachable")
}

func testSigner(t *testing.T) *Signer {
	keys, err := LoadOrCreateKeys(t.TempDir(), "testerd", true)
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{Domain: "tester.example", Keys: keys}
}

// A 4xx is retried after the backoff; the retry is signed too.
func TestQueueRetriesAfter4xx(t *testing.T) {
	w := newWorld(t, mxtest.Options{})
	var calls atomic.Int32
	w.mx1.Refuse = func(s mxtest.Stage) error {
		if s == mxtest.Data && calls.Add(1) == 1 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}
	st := openStore(t, filepath.Join(t.TempDir(), "q.db"))
	defer st.Close()
	o := enqueue(t, st, "joe@one.example") // one MX: mx1
	q := &Queue{Store: st, Transport: w.direct, Signer: testSigner(t), Backoff: 50 * time.Millisecond}
	done, _ := runQueue(t, q)

	first := next(t, done)
	if first.State != store.Deferred || first.Attempts != 1 || !strings.Contains(first.LastError, "451 try later") ||
		first.NextAttempt.IsZero() {
		t.Fatalf("first attempt: %+v", first)
	}
	second := next(t, done)
	if second.State != store.Sent || second.Attempts != 2 || second.LastError != "" || second.Sent.IsZero() {
		t.Fatalf("second attempt: %+v", second)
	}
	got := w.mx1.Messages()
	if len(got) != 1 || bytes.Count(got[0].Data, []byte("DKIM-Signature:")) != 2 || !bytes.HasSuffix(got[0].Data, msg.Data[bytes.Index(msg.Data, []byte("\r\n\r\n")):]) {
		t.Fatalf("received %+v", got)
	}
	stored, err := st.Outgoing(context.Background(), o.ID)
	if err != nil || stored.State != store.Sent || stored.Attempts != 2 || !strings.HasPrefix(stored.Relay, "mx1.rcpt.example") {
		t.Fatalf("stored %+v, %v", stored, err)
	}
}

func TestQueueGivesUp(t *testing.T) {
	w := newWorld(t, mxtest.Options{})
	always421 := refuse(421, mxtest.Rcpt)
	w.mx1.Refuse, w.mx2.Refuse = always421, always421
	st := openStore(t, filepath.Join(t.TempDir(), "q.db"))
	defer st.Close()
	enqueue(t, st, msg.To)
	q := &Queue{Store: st, Transport: w.direct, Backoff: 20 * time.Millisecond, GiveUp: 300 * time.Millisecond}
	done, _ := runQueue(t, q)
	for {
		o := next(t, done)
		if o.State == store.Deferred {
			continue
		}
		if o.State != store.Failed || !strings.Contains(o.LastError, "gave up after 300ms") || !strings.Contains(o.LastError, "421") {
			t.Fatalf("final state %+v", o)
		}
		if o.Attempts < 2 {
			t.Fatalf("gave up after %d attempts", o.Attempts)
		}
		break
	}
}

func TestQueuePermanentFailure(t *testing.T) {
	w := newWorld(t, mxtest.Options{})
	w.mx1.Refuse = refuse(550, mxtest.Rcpt)
	st := openStore(t, filepath.Join(t.TempDir(), "q.db"))
	defer st.Close()
	enqueue(t, st, msg.To)
	done, _ := runQueue(t, &Queue{Store: st, Transport: w.direct})
	if o := next(t, done); o.State != store.Failed || o.Attempts != 1 || !strings.Contains(o.LastError, "550") {
		t.Fatalf("got %+v", o)
	}
}

// A shutdown in the middle of a delivery leaves the message queued; the
// next process, on the same database, delivers it.
func TestQueueSurvivesRestart(t *testing.T) {
	w := newWorld(t, mxtest.Options{})
	w.mx1.Hang = make(chan struct{})
	path := filepath.Join(t.TempDir(), "q.db")
	st := openStore(t, path)
	o := enqueue(t, st, msg.To)
	q1 := &Queue{Store: st, Transport: w.direct}
	done1, stop1 := runQueue(t, q1)
	select {
	case <-w.mx1.Hanging:
	case <-time.After(20 * time.Second):
		t.Fatal("the delivery never reached DATA")
	}
	stop1()
	select {
	case o := <-done1:
		t.Fatalf("an interrupted attempt was recorded: %+v", o)
	default:
	}
	st.Close()
	close(w.mx1.Hang)

	st2 := openStore(t, path)
	defer st2.Close()
	if got, err := st2.Outgoing(context.Background(), o.ID); err != nil || got.State != store.Queued || got.Attempts != 0 {
		t.Fatalf("after the restart: %+v, %v", got, err)
	}
	done2, _ := runQueue(t, &Queue{Store: st2, Transport: w.direct})
	if got := next(t, done2); got.State != store.Sent || got.Attempts != 1 {
		t.Fatalf("after the restart: %+v", got)
	}
}

func TestBackoff(t *testing.T) {
	q := &Queue{}
	q.init()
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute,
		32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if got := q.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
}
