package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"inkwell/domain"
)

// The committed reference is what the generator makes of the code today.
func TestDocsAreCurrent(t *testing.T) {
	files, err := Generate("../../domain")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("../..", name))
		if err != nil {
			t.Fatalf("%s: %v (run go run ./cmd/eventdoc)", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not current: run go run ./cmd/eventdoc", name)
		}
	}
}

func TestEveryEventIsDocumented(t *testing.T) {
	files, err := Generate("../../domain")
	if err != nil {
		t.Fatal(err)
	}
	md := string(files["docs/events.md"])
	var async map[string]any
	if err := json.Unmarshal(files["docs/asyncapi.json"], &async); err != nil {
		t.Fatal(err)
	}
	msgs := async["components"].(map[string]any)["messages"].(map[string]any)
	for _, spec := range domain.EventSpecs() {
		if !strings.Contains(md, "### "+spec.Type+"\n") {
			t.Errorf("events.md lacks %s", spec.Type)
		}
		if _, ok := msgs[strings.ReplaceAll(spec.Type, ".", "_")]; !ok {
			t.Errorf("asyncapi.json lacks %s", spec.Type)
		}
	}
	if !strings.Contains(md, "password_hash") || !strings.Contains(md, "Sensitive fields") {
		t.Error("the sensitive password hash is not marked")
	}
	// The personal fields, in both documents.
	if !strings.Contains(md, "Personal fields (data about a person; `x-personal` in the schema): `username`, `email`") {
		t.Error("events.md does not mark user.registered's personal fields")
	}
	data := msgs["user_registered"].(map[string]any)["payload"].(map[string]any)["properties"].(map[string]any)
	if data["email"].(map[string]any)["x-personal"] != true || data["user_id"].(map[string]any)["x-personal"] != nil {
		t.Errorf("asyncapi.json marks email %v and user_id %v", data["email"], data["user_id"])
	}
}

// The AsyncAPI document says where the log is (a NATS server, a variable
// host) and binds every channel and operation to it, so that a generator
// of NATS followers has what it needs.
func TestAsyncAPINamesItsNATSServer(t *testing.T) {
	files, err := Generate("../../domain")
	if err != nil {
		t.Fatal(err)
	}
	var async struct {
		AsyncAPI string `json:"asyncapi"`
		Servers  map[string]struct {
			Protocol string `json:"protocol"`
			Host     string `json:"host"`
		} `json:"servers"`
		Channels   map[string]struct{ Servers []map[string]string } `json:"channels"`
		Operations map[string]struct {
			Bindings map[string]any `json:"bindings"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(files["docs/asyncapi.json"], &async); err != nil {
		t.Fatal(err)
	}
	if async.AsyncAPI != "3.1.0" || async.Servers["nats"].Protocol != "nats" || async.Servers["nats"].Host == "" {
		t.Fatalf("asyncapi %s, servers %+v: want 3.1.0 and a nats server", async.AsyncAPI, async.Servers)
	}
	for name, c := range async.Channels {
		if len(c.Servers) != 1 || c.Servers[0]["$ref"] != "#/servers/nats" {
			t.Errorf("channel %s is on servers %v", name, c.Servers)
		}
	}
	for name, op := range async.Operations {
		if op.Bindings["nats"] == nil {
			t.Errorf("operation %s has no nats binding", name)
		}
	}
	// What a follower of the raw stream must know is said.
	md := string(files["docs/events.md"])
	for _, want := range []string{"base64 without padding", "`MaxAckPending` 1", `"reason": "author deleted"`, "records `user.erased` and no\n  `user.deleted`", "addEventListener"} {
		if !strings.Contains(md, want) {
			t.Errorf("events.md does not say %q", want)
		}
	}
}
