package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/iostreams"
)

// Exit codes (documented in the root --help).
const (
	ExitOK       = 0
	ExitRefused  = 1
	ExitUsage    = 2
	ExitDatabase = 3
)

// ExitCode is the one place errors become exit codes.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, tracker.ErrDatabase):
		return ExitDatabase
	case errors.Is(err, tracker.ErrUsage):
		return ExitUsage
	default:
		return ExitRefused
	}
}

// Run is main's body: os.Exit(cmd.Run()).
func Run() int {
	// SIGINT or SIGTERM cancels the commands that run gates: they kill their
	// test processes (each in its own process group, which a signal to ours
	// does not reach), remove their scratch files and write nothing. A second
	// signal falls back to the default and ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()
	f := NewFactory(iostreams.System(), os.Getenv, append([]string{"porttracker"}, os.Args[1:]...))
	return ExecuteContext(ctx, f, os.Args[1:])
}

// Main runs porttracker with args and returns the exit code.
func Main(args []string, ios *iostreams.IOStreams, getenv func(string) string) int {
	f := NewFactory(ios, getenv, append([]string{"porttracker"}, args...))
	return Execute(f, args)
}

// Execute runs the command tree against a prepared Factory and reports the
// error, if any, on stderr.
func Execute(f *Factory, args []string) int {
	return ExecuteContext(context.Background(), f, args)
}

// orBackground is ctx, or context.Background for options built without a
// command (tests calling a Run function directly).
func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// ExecuteContext is Execute with a context that long-running commands
// (gate runs) give up on when it is canceled.
func ExecuteContext(ctx context.Context, f *Factory, args []string) int {
	root := NewCmdRoot(f)
	root.SetArgs(args)
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	err := root.ExecuteContext(ctx)
	if err != nil && isCobraUsage(err) {
		err = usageError(err)
	}
	if err != nil {
		fmt.Fprintf(f.IOStreams.ErrOut, "porttracker: %v\n", err)
		if errors.Is(err, tracker.ErrUsage) {
			fmt.Fprintln(f.IOStreams.ErrOut, "Run 'porttracker --help' for usage.")
		}
	}
	return ExitCode(err)
}

// isCobraUsage recognises the argument errors cobra produces itself.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand", "invalid argument",
		"required flag", "flag needs an argument", "accepts ", "requires "} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

func usageError(err error) error {
	if errors.Is(err, tracker.ErrUsage) {
		return err
	}
	return &tracker.UsageError{Msg: err.Error()}
}

// noArgs refuses positional arguments as a usage error (cobra's own error is
// untyped and would map to the wrong exit code).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if cmd.HasSubCommands() {
			return tracker.Usagef("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return tracker.Usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// exactArgs requires n positional arguments, named in the message.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return tracker.Usagef("%s needs %s, got %d argument(s)", cmd.CommandPath(), names, len(args))
		}
		return nil
	}
}
