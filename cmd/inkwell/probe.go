package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// probeCommand asks a running server whether it is ready (GET /readyz) and
// exits 0 if it is, 1 if not: a health check for containers whose image has
// no shell or HTTP client.
func (a *app) probeCommand() *ffcli.Command {
	cfg := DefaultConfig()
	fs := a.newFlagSet("inkwell probe")
	path := fs.String("path", "/readyz", "what to ask: /readyz (ready to serve) or /healthz (up)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	env := envBindings{"addr": "INKWELL_ADDR"}
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "the server's listen address ($INKWELL_ADDR); a host-less one is asked on 127.0.0.1")
	return &ffcli.Command{
		Name:       "probe",
		ShortUsage: "inkwell probe [--addr ADDR] [--path /readyz] [flags]",
		ShortHelp:  "check a running server's readiness (for health checks)",
		FlagSet:    fs,
		Exec: func(ctx context.Context, args []string) error {
			if err := a.settle(fs, env, &cfg, args); err != nil {
				return err
			}
			host, port, err := net.SplitHostPort(cfg.Addr)
			if err != nil {
				return usagef("probe: --addr %q: %v", cfg.Addr, err)
			}
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			url := "http://" + net.JoinHostPort(host, port) + *path
			ctx, cancel := context.WithTimeout(ctx, *timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return usagef("probe: %v", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("probe %s: %w", url, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("probe %s: %s", url, resp.Status)
			}
			fmt.Fprintf(a.stdout, "%s: %s\n", url, resp.Status)
			return nil
		},
	}
}
