package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// probeCommand asks a running server whether it is ready (GET /readyz) and
// exits 0 if it is, 1 if not: a health check for containers whose image has
// no shell or HTTP client.
func (a *app) probeCommand() *ffcli.Command {
	var path string
	var timeout time.Duration
	return a.command(leaf{
		path:  "inkwell probe",
		usage: "inkwell probe [--addr ADDR] [--path /readyz] [flags]",
		help:  "check a running server's readiness (for health checks)",
		configFlags: func(fs *flag.FlagSet, cfg *Config, env envBindings) {
			fs.StringVar(&path, "path", "/readyz", "what to ask: /readyz (ready to serve) or /healthz (up)")
			fs.DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
			fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "the server's listen address ($INKWELL_ADDR); a host-less one is asked on 127.0.0.1")
			env["addr"] = "INKWELL_ADDR"
		},
		run: func(ctx context.Context, cfg Config) error {
			if paths := []string{"/readyz", "/healthz"}; !slices.Contains(paths, path) {
				return notOneOf("probe --path", "path", path, paths)
			}
			host, port, err := net.SplitHostPort(cfg.Addr)
			if err != nil {
				return usagef("probe: --addr %q: %v", cfg.Addr, err)
			}
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			url := "http://" + net.JoinHostPort(host, port) + path
			ctx, cancel := context.WithTimeout(ctx, timeout)
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
	})
}
