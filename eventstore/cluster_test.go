package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
	"inkwell/eventstore"
)

// What a NATS cluster answers while it elects a leader or still forms is
// asked again at start-up; what it refuses for good is not.
func TestClusterBusyAnswers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		busy bool
	}{
		{nats.ErrTimeout, true},
		{context.DeadlineExceeded, true},
		{nats.ErrNoResponders, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		// A cluster forming: its meta leader knows of too few servers yet.
		{&jetstream.APIError{Code: 400, ErrorCode: 10005, Description: "no suitable peers for placement"}, true},
		{fmt.Errorf("data key: %w", &domain.UnavailableError{Dependency: domain.DependencyEventLog, Err: context.DeadlineExceeded}), true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10058, Description: "stream name already in use with a different configuration"}, false},
		{jetstream.ErrStreamNotFound, false},
		{errors.New("the keys in NATS are wrapped by another master key"), false},
	} {
		if got := eventstore.ClusterBusy(c.err); got != c.busy {
			t.Errorf("%v: busy %t, want %t", c.err, got, c.busy)
		}
	}
}
