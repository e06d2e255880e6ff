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

// Package rabbitmq is what the operator's tests need of the local RabbitMQ:
// its URL and its control tool. (The SDK module's tests have their own in
// sdk/internal/rabbittest: a module's internal packages are not visible to
// the other.)
package rabbitmq

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// BrokerURL is the broker the integration tests use: the local RabbitMQ that
// "make test" ensures, unless ORDERSAGA_TEST_BROKER_URL says otherwise.
func BrokerURL() string {
	if u := os.Getenv("ORDERSAGA_TEST_BROKER_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// Ctl runs rabbitmqctl, the local broker's control tool, which the
// fault tests use to close connections and restart the broker. Debian's
// rabbitmq-server, which hack/ensure-rabbitmq.sh installs when the broker is
// missing, provides it; its absence is an error, not a reason to skip.
func Ctl(args ...string) ([]byte, error) {
	path, err := rabbitmqctlPath()
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("rabbitmqctl %v: %w: %s", args, err, out)
	}
	return out, nil
}

func rabbitmqctlPath() (string, error) {
	if path, err := exec.LookPath("rabbitmqctl"); err == nil {
		return path, nil
	}
	// Debian installs it in sbin, outside a non-root user's PATH.
	for _, path := range []string{"/usr/sbin/rabbitmqctl", "/usr/lib/rabbitmq/bin/rabbitmqctl"} {
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	return "", errors.New("rabbitmqctl not found: run hack/ensure-rabbitmq.sh (make broker) to install RabbitMQ")
}

// StartApp starts the broker's application after a stop_app, and waits
// until it accepts connections and commands again.
func StartApp() error {
	if _, err := Ctl("start_app"); err != nil {
		return err
	}
	_, err := Ctl("await_startup")
	return err
}
