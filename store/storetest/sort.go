package storetest

import (
	"maps"
	"slices"
)

// sortedKeys returns m's keys in order, so subtests run in a stable order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
