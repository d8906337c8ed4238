package memstore_test

import (
	"testing"

	"inkwell/eventstore/memstore"
	"inkwell/eventstore/storetest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Contract(t, func(*testing.T) storetest.Port { return memstore.New() })
}
