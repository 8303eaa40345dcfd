package store

import (
	"encoding/binary"
	"fmt"
	"time"
)

// AuditEvent is one entry of the append-only audit log. Detail must not
// carry secrets: the log is stored in clear.
type AuditEvent struct {
	Time   time.Time         `json:"time"`
	Type   string            `json:"type"`
	UserID string            `json:"user_id,omitempty"`
	Detail map[string]string `json:"detail,omitempty"`
}

type auditRecord struct {
	header
	AuditEvent
}

// AppendAudit appends e to the audit log.
func (tx *Tx) AppendAudit(e *AuditEvent) error {
	if e.Type == "" {
		return fmt.Errorf("store: audit event has no type")
	}
	b := tx.btx.Bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("store: audit sequence: %w", err)
	}
	key := make([]byte, 8)
	binary.BigEndian.PutUint64(key, seq)
	rec := auditRecord{header: current(), AuditEvent: *e}
	rec.Time = utc(rec.Time)
	return tx.put(bucketAudit, key, &rec)
}

// AuditEvents returns up to limit events, newest first; limit <= 0 means
// all of them.
func (tx *Tx) AuditEvents(limit int) ([]AuditEvent, error) {
	var events []AuditEvent
	c := tx.btx.Bucket(bucketAudit).Cursor()
	for k, v := c.Last(); k != nil && (limit <= 0 || len(events) < limit); k, v = c.Prev() {
		var rec auditRecord
		if err := decode(v, &rec); err != nil {
			return nil, err
		}
		events = append(events, rec.AuditEvent)
	}
	return events, nil
}
