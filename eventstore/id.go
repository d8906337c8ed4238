package eventstore

import (
	"fmt"

	"github.com/google/uuid"
)

func newEventID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("event id: %w", err)
	}
	return id.String(), nil
}
