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

package amqpconn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ordersaga/ordersaga-operator/sdk/amqpconn"
	"github.com/ordersaga/ordersaga-operator/sdk/internal/rabbittest"
)

// certificateAuthority signs server certificates for the tests.
type certificateAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T, name string) *certificateAuthority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &certificateAuthority{cert: cert, key: key, pool: pool}
}

// serverCertificate issues a certificate for the DNS name.
func (ca *certificateAuthority) serverCertificate(t *testing.T, dnsName string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsListener is a TLS-enabled broker listener: it terminates TLS with the
// given certificate and forwards to the broker's AMQP port.
func tlsListener(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	u, err := url.Parse(brokerURL())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				server, err := net.Dial("tcp", u.Host)
				if err != nil {
					_ = client.Close()
					return
				}
				go func() { _, _ = io.Copy(server, client); _ = server.Close() }()
				_, _ = io.Copy(client, server)
				_ = client.Close()
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).String()
}

// connects reports whether a Broker with this URL and TLS settings gets a
// connection within a few seconds.
func connects(t *testing.T, rawURL string, cfg *tls.Config) bool {
	t.Helper()
	topo := testTopology{Prefix: rabbittest.Name("tls")}
	b := amqpconn.New(amqpconn.Config{URL: rawURL, TLS: cfg, Topology: topo,
		MinReconnectDelay: 50 * time.Millisecond, MaxReconnectDelay: 200 * time.Millisecond}, testr.New(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Start(ctx) }()
	defer func() {
		cancel()
		<-done
		deleteTopology(topo)
	}()
	g := NewWithT(t)
	return g.Eventually(b.Connected).WithTimeout(3 * time.Second).Should(BeTrue())
}

func TestTLS(t *testing.T) {
	ca := newCA(t, "ordersaga test CA")
	addr := tlsListener(t, ca.serverCertificate(t, "rabbitmq.test"))
	_, port, _ := net.SplitHostPort(addr)
	amqps := "amqps://guest:guest@127.0.0.1:" + port + "/"

	t.Run("the right CA and server name connect", func(t *testing.T) {
		if !connects(t, amqps, &tls.Config{RootCAs: ca.pool, ServerName: "rabbitmq.test", MinVersion: tls.VersionTLS12}) {
			t.Fatal("no connection with the right CA and name")
		}
	})
	t.Run("a wrong CA is refused", func(t *testing.T) {
		other := newCA(t, "somebody else")
		g := NewWithT(t)
		g.Expect(connectsQuietly(t, amqps, &tls.Config{RootCAs: other.pool, ServerName: "rabbitmq.test", MinVersion: tls.VersionTLS12})).To(BeFalse())
	})
	t.Run("a wrong server name is refused", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(connectsQuietly(t, amqps, &tls.Config{RootCAs: ca.pool, ServerName: "rabbitmq.evil", MinVersion: tls.VersionTLS12})).To(BeFalse())
	})
	t.Run("amqps to a plaintext port does not fall back to plaintext", func(t *testing.T) {
		u, _ := url.Parse(brokerURL())
		plain := "amqps://guest:guest@" + u.Host + "/"
		g := NewWithT(t)
		g.Expect(connectsQuietly(t, plain, &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12})).To(BeFalse())
	})
}

// connectsQuietly is connects without failing the test when no connection
// comes.
func connectsQuietly(t *testing.T, rawURL string, cfg *tls.Config) bool {
	t.Helper()
	topo := testTopology{Prefix: rabbittest.Name("tls")}
	defer deleteTopology(topo)
	b := amqpconn.New(amqpconn.Config{URL: rawURL, TLS: cfg, Topology: topo,
		MinReconnectDelay: 50 * time.Millisecond, MaxReconnectDelay: 200 * time.Millisecond}, testr.New(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Start(ctx) }()
	connected := false
	for ctx.Err() == nil && !connected {
		connected = b.Connected()
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	<-done
	return connected
}

// deleteTopology removes a topology over a plain connection of the test's.
func deleteTopology(topo testTopology) {
	if conn, err := amqp.Dial(brokerURL()); err == nil {
		if ch, err := conn.Channel(); err == nil {
			_ = topo.Delete(ch)
		}
		_ = conn.Close()
	}
}
