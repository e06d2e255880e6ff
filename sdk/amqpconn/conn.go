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

package amqpconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrNotConnected is returned while the broker connection is down.
var ErrNotConnected = errors.New("broker not connected")

// Config configures a Broker.
type Config struct {
	// URL is the AMQP URL, credentials included (amqp:// or amqps://).
	URL string
	// TLS configures amqps: the CA bundle and the server name to verify.
	// Nil uses the system roots and the URL's host.
	TLS *tls.Config
	// Topology is declared on every (re)connection, before anything is
	// published or consumed.
	Topology Declarer
	// ConnectionName is shown in the broker's management UI.
	ConnectionName string
	// Heartbeat detects a dead peer; default 10s.
	Heartbeat time.Duration
	// MinReconnectDelay and MaxReconnectDelay bound the reconnection
	// backoff; defaults 100ms and 30s.
	MinReconnectDelay, MaxReconnectDelay time.Duration
	// PublishTimeout bounds a publish, confirm included; default 10s. A
	// broker that blocks publishers (memory or disk alarm) would otherwise
	// hold the caller for ever.
	PublishTimeout time.Duration
	// Observer is told about connection changes, blocking and publishes;
	// optional.
	Observer Observer
}

// Declarer declares exchanges, queues and bindings; declaring again is
// harmless.
type Declarer interface {
	Declare(ch *amqp.Channel) error
}

// Observer is told what the broker does, for metrics.
type Observer interface {
	// ConnectionChanged reports the connection going up or down.
	ConnectionChanged(up bool)
	// PublishingBlocked reports that the broker blocks publishers on the
	// connection (a memory or disk alarm), or no longer does. It is called
	// only while the connection is up; a new connection starts unblocked.
	PublishingBlocked(blocked bool)
	// Published reports a publish, its latency until confirmed, and its error.
	Published(latency time.Duration, err error)
}

type nopObserver struct{}

func (nopObserver) ConnectionChanged(bool)         {}
func (nopObserver) PublishingBlocked(bool)         {}
func (nopObserver) Published(time.Duration, error) {}

// Conn keeps one AMQP connection up and publishes on it. Start runs it.
type Conn struct {
	cfg Config
	log logr.Logger

	mu      sync.Mutex
	current *session
	// lostAt is when the last session ended, or when the Conn was made if
	// none has started yet.
	lostAt time.Time
	// changed is closed and replaced whenever current changes, to wake
	// WaitSession callers.
	changed chan struct{}
}

// Defaults of a Config's reconnection backoff.
const (
	DefaultMinReconnectDelay = 100 * time.Millisecond
	DefaultMaxReconnectDelay = 30 * time.Second
)

// New returns a Conn; Start connects it.
func New(cfg Config, log logr.Logger) *Conn {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.MinReconnectDelay <= 0 {
		cfg.MinReconnectDelay = DefaultMinReconnectDelay
	}
	if cfg.MaxReconnectDelay <= 0 {
		cfg.MaxReconnectDelay = DefaultMaxReconnectDelay
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 10 * time.Second
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	return &Conn{cfg: cfg, log: log, changed: make(chan struct{}), lostAt: time.Now()}
}

// Start connects and stays connected until ctx ends, reconnecting with
// exponential backoff and jitter.
func (c *Conn) Start(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		s, err := c.connect()
		if err != nil {
			delay := c.reconnectDelay(failures)
			failures++
			if isConfigurationError(err) {
				// Retrying will not help until someone changes the broker or
				// the flags: say so loudly.
				c.log.Error(err, "Broker refused the connection or the topology; retrying", "attempt", failures, "retryIn", delay)
			} else {
				c.log.Info("Broker connection failed; retrying", "error", err.Error(), "attempt", failures, "retryIn", delay)
			}
			select {
			case <-ctx.Done():
			case <-time.After(delay):
			}
			continue
		}
		failures = 0
		c.setSession(s)
		c.cfg.Observer.ConnectionChanged(true)
		c.log.Info("Broker connected", "connectionName", c.cfg.ConnectionName)
		reason := s.wait(ctx, c.blockChanged)
		c.setSession(nil)
		c.cfg.Observer.ConnectionChanged(false)
		s.close()
		if ctx.Err() == nil {
			c.log.Info("Broker connection lost; reconnecting", "reason", reason)
		}
	}
	return nil
}

// blockChanged logs and reports the broker blocking or unblocking publishers.
func (c *Conn) blockChanged(blocked bool, reason string) {
	if blocked {
		c.log.Info("Broker blocks publishing", "reason", reason)
	} else {
		c.log.Info("Broker unblocked publishing")
	}
	c.cfg.Observer.PublishingBlocked(blocked)
}

func (c *Conn) reconnectDelay(failures int) time.Duration {
	d := c.cfg.MinReconnectDelay << min(failures, 16)
	d = min(d, c.cfg.MaxReconnectDelay)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1)) //nolint:gosec // jitter needs no cryptographic randomness
}

// connect dials, declares the topology and opens the publisher channel.
func (c *Conn) connect() (*session, error) {
	props := amqp.Table{}
	if c.cfg.ConnectionName != "" {
		props["connection_name"] = c.cfg.ConnectionName
	}
	conn, err := amqp.DialConfig(c.cfg.URL, amqp.Config{
		Heartbeat:       c.cfg.Heartbeat,
		TLSClientConfig: c.cfg.TLS,
		Locale:          "en_US",
		Properties:      props,
	})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", hidePassword(err, c.cfg.URL))
	}
	s, err := newSession(conn, c.cfg.Topology)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

func (c *Conn) setSession(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == nil && c.current != nil {
		c.lostAt = c.current.unavailableSince()
		if c.lostAt.IsZero() {
			c.lostAt = time.Now()
		}
	}
	c.current = s
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Conn) session() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// UnavailableSince returns when the connection stopped being able to
// publish (it went down, the broker started blocking it, or it has not come
// up since the Conn was made), or zero while it can: Connected and
// UnavailableSince().IsZero() agree.
func (c *Conn) UnavailableSince() time.Time {
	c.mu.Lock()
	s, lost := c.current, c.lostAt
	c.mu.Unlock()
	if s == nil {
		return lost
	}
	return s.unavailableSince()
}

// Connected reports whether the connection is up and the broker is not
// blocking publishers.
func (c *Conn) Connected() bool { return c.UnavailableSince().IsZero() }

// hidePassword keeps the password out of a dial error, which is logged: the
// error of a malformed URL (a password with an unencoded "@", say) quotes the
// URL whole.
func hidePassword(err error, rawURL string) error {
	if !strings.Contains(err.Error(), rawURL) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), rawURL, RedactURL(rawURL)))
}

// URLUser is the broker user an AMQP URL connects as: the one it names, or
// "guest", amqp091-go's default. RabbitMQ checks a message's user_id
// against it.
func URLUser(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.User != nil && u.User.Username() != "" {
		return u.User.Username()
	}
	return "guest"
}

// RedactURL returns an AMQP URL with its password replaced by "***", for
// logs and messages.
func RedactURL(rawURL string) string {
	start := strings.Index(rawURL, "://") + len("://")
	at := strings.LastIndex(rawURL, "@")
	if start < len("://") || at < start {
		return rawURL // no credentials
	}
	user, _, hasPassword := strings.Cut(rawURL[start:at], ":")
	if !hasPassword {
		return rawURL
	}
	return rawURL[:start] + user + ":***" + rawURL[at:]
}

// isConfigurationError tells errors a retry cannot fix without someone's
// action: access refused, a queue declared before with other arguments
// (PRECONDITION_FAILED), or a queue that does not exist (NOT_FOUND: a
// participant not registered yet).
func isConfigurationError(err error) bool {
	if amqpErr, ok := errors.AsType[*amqp.Error](err); ok {
		return amqpErr.Code == amqp.AccessRefused || amqpErr.Code == amqp.PreconditionFailed ||
			amqpErr.Code == amqp.NotAllowed || amqpErr.Code == amqp.NotFound
	}
	return false
}

// WaitConnection blocks until the connection is up, and returns it with a
// channel that is closed when it goes down.
func (c *Conn) WaitConnection(ctx context.Context) (*amqp.Connection, <-chan struct{}, error) {
	for {
		c.mu.Lock()
		s, changed := c.current, c.changed
		c.mu.Unlock()
		if s != nil && !s.ended() {
			return s.conn, s.done, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-changed:
		}
	}
}

// CloseConnection closes the current connection, as a broken network would;
// the Conn reconnects. For fault-injection tests.
func (c *Conn) CloseConnection() {
	if s := c.session(); s != nil {
		_ = s.conn.Close()
	}
}

// DeclarerFunc is a function that is a Declarer.
type DeclarerFunc func(ch *amqp.Channel) error

// Declare implements Declarer.
func (f DeclarerFunc) Declare(ch *amqp.Channel) error { return f(ch) }
