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

// Package sagactl is the kubectl saga plugin: commands that show OrderSagas
// to a person (list, tree, history) and the verbs that act on one
// (suspend, resume, and the manual verbs of request.go). The rendering functions are pure, so that they are tested
// without a cluster; the commands read and write through the apiserver
// only, never through the operator.
package sagactl

import (
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Options is what every command shares: kubectl's connection flags, the
// streams, and the clock.
type Options struct {
	// ConfigFlags are kubectl's --kubeconfig, --context, -n and the rest.
	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
	// Now is the clock ages and durations are measured with.
	Now func() time.Time
}

// commands are the subcommands of kubectl saga, in the order help lists
// them (cobra sorts them). A new verb that edits the saga is a file with a
// func(*Options) *cobra.Command (see verb.go and suspend.go) and a line
// here; a verb the operator applies is a line in requestVerbs (request.go).
var commands = []func(*Options) *cobra.Command{
	newListCommand,
	newTreeCommand,
	newHistoryCommand,
	newSuspendCommand,
	newResumeCommand,
}

// NewOptions returns the options of a command line run with streams, on
// the real clock.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{
		ConfigFlags: genericclioptions.NewConfigFlags(true),
		IOStreams:   streams,
		Now:         time.Now,
	}
}

// NewCommand returns the kubectl saga command with its subcommands.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return NewOptions(streams).Command()
}

// Command returns the kubectl saga command, its subcommands run with o.
func (o *Options) Command() *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-saga",
		Short: "Show and operate OrderSagas",
		Long: "kubectl saga shows OrderSagas as a person reads them (list, tree,\n" +
			"history), holds and resumes one (suspend, resume), and asks the\n" +
			"operator for the manual verbs (retry, skip, compensate, cancel,\n" +
			"resume-forward).",
		Annotations: map[string]string{
			// kubectl shows a plugin's usage as "kubectl saga".
			cobra.CommandDisplayNameAnnotation: "kubectl saga",
		},
		// A refusal is not a usage error: print the error alone.
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(o.In)
	root.SetOut(o.Out)
	root.SetErr(o.ErrOut)
	o.ConfigFlags.AddFlags(root.PersistentFlags())
	for _, newCmd := range commands {
		root.AddCommand(newCmd(o))
	}
	root.AddCommand(newRequestCommands(o)...)
	return root
}
