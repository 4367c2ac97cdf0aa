package benchkit

import (
	"encoding/json"
	"fmt"
	"os"
)

// WriteJSON writes a benchmark's results as indented JSON to path (the
// .json beside each script's .md report).
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
