package main_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"inkwell/api"
	"inkwell/auth"
	"inkwell/domain"
)

// The table of input limits (docs/security.md) says what the code enforces.
func TestDocsInputLimits(t *testing.T) {
	t.Parallel()
	page := readDoc(t, "docs/security.md")
	want := map[string]string{
		"`username`":                 strconv.Itoa(domain.MaxUsernameLen),
		"`email`":                    strconv.Itoa(domain.MaxEmailLen),
		"`password`, `new_password`": fmt.Sprintf("%d (and at least %d)", domain.MaxPasswordLen, domain.MinPasswordLen),
		"`first_name`, `last_name`":  strconv.Itoa(domain.MaxNameLen),
		"`bio`":                      strconv.Itoa(domain.MaxBioLen),
		"`avatar`, `cover_image`":    strconv.Itoa(domain.MaxURLLen),
		"`title`":                    strconv.Itoa(domain.MaxTitleLen),
		"`slug`":                     strconv.Itoa(domain.MaxSlugLen),
		"`content`":                  strconv.Itoa(domain.MaxContentLen),
		"`excerpt`":                  strconv.Itoa(domain.MaxExcerptLen),
		"`tags` (per article)":       strconv.Itoa(domain.MaxTags),
		"category `name`":            strconv.Itoa(domain.MaxCategoryNameLen),
		"category `description`":     strconv.Itoa(domain.MaxDescriptionLen),
		"tag `name`":                 strconv.Itoa(domain.MaxTagNameLen),
		"`page_size`, `limit`":       strconv.Itoa(api.MaxPageSize),
		"`cursor`":                   strconv.Itoa(api.MaxCursorLen),
		"request body":               fmt.Sprintf("%d MiB (413)", api.MaxBodyBytes>>20),
		"bearer token":               fmt.Sprintf("%d KiB (401)", auth.MaxTokenLen>>10),
	}
	got := map[string]string{}
	for _, line := range strings.Split(page, "\n") {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) != 4 {
			continue
		}
		if field := strings.TrimSpace(cells[1]); want[field] != "" {
			got[field] = strings.TrimSpace(cells[2])
		}
	}
	for field, limit := range want {
		if got[field] != limit {
			t.Errorf("docs/security.md: the limit of %s is %q, the code's %q", field, got[field], limit)
		}
	}
}
