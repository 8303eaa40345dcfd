package store

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestAuditEventsNewestFirst(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *Tx) error {
		for i := range 5 {
			e := AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), Type: fmt.Sprint("e", i), UserID: "u",
				Detail: map[string]string{"n": fmt.Sprint(i)}}
			if err := tx.AppendAudit(&e); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		name  string
		limit int
		want  []string
	}{
		{"limit returns the newest events", 2, []string{"e4", "e3"}},
		{"zero limit returns all", 0, []string{"e4", "e3", "e2", "e1", "e0"}},
		{"limit above the count returns all", 10, []string{"e4", "e3", "e2", "e1", "e0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustView(t, db, func(tx *Tx) error {
				events, err := tx.AuditEvents(tt.limit)
				if err != nil {
					return err
				}
				var types []string
				for _, e := range events {
					types = append(types, e.Type)
				}
				if !reflect.DeepEqual(types, tt.want) {
					t.Errorf("types = %v, want %v", types, tt.want)
				}
				return nil
			})
		})
	}
	mustView(t, db, func(tx *Tx) error {
		events, err := tx.AuditEvents(1)
		if err != nil {
			return err
		}
		want := AuditEvent{Time: t0.Add(4 * time.Second), Type: "e4", UserID: "u", Detail: map[string]string{"n": "4"}}
		if !reflect.DeepEqual(events[0], want) {
			t.Errorf("event = %+v, want %+v", events[0], want)
		}
		return nil
	})
}

func TestAppendAuditWithoutTypeIsRefused(t *testing.T) {
	db := openTestDB(t)
	if err := db.Update(t.Context(), func(tx *Tx) error { return tx.AppendAudit(&AuditEvent{Time: t0}) }); err == nil {
		t.Fatal("AppendAudit accepted an event without type")
	}
}
