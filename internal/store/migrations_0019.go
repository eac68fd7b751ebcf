package store

// m0019 adds outbound webhooks: the endpoints (their URL and signing secret encrypted by the
// webhook service, the host kept apart for lists) and their deliveries, an outbox with the same
// columns for the queue as mail_outbox (state, attempts, next try, give-up time, lease), so
// both are claimed by the same statements. A delivery is written in the transaction of the
// change it reports; deleting an endpoint deletes its deliveries.
var m0019 = []string{
	`CREATE TABLE webhooks (
		id varchar(36) PRIMARY KEY,
		name text NOT NULL,
		host text NOT NULL,
		url_enc text NOT NULL,
		secret_enc text NOT NULL DEFAULT '',
		format varchar(16) NOT NULL,
		events text NOT NULL,
		internal boolean NOT NULL DEFAULT false,
		enabled boolean NOT NULL DEFAULT true,
		version integer NOT NULL DEFAULT 1,
		created_at {ts} NOT NULL,
		updated_at {ts} NOT NULL)`,
	`CREATE UNIQUE INDEX webhooks_name_key ON webhooks (name)`,
	`CREATE TABLE webhook_deliveries (
		id varchar(36) PRIMARY KEY,
		webhook_id varchar(36) NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
		event_id varchar(36) NOT NULL,
		event_type varchar(64) NOT NULL,
		request_id varchar(36) NOT NULL DEFAULT '',
		body text NOT NULL,
		state varchar(16) NOT NULL,
		attempts integer NOT NULL DEFAULT 0,
		last_status integer NOT NULL DEFAULT 0,
		next_attempt_at {ts} NOT NULL,
		give_up_at {ts},
		lease_owner varchar(36) NOT NULL DEFAULT '',
		lease_until {ts},
		last_error text NOT NULL DEFAULT '',
		created_at {ts} NOT NULL,
		sent_at {ts},
		updated_at {ts} NOT NULL)`,
	`CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (state, next_attempt_at)`,
	`CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at, id)`,
	`CREATE INDEX webhook_deliveries_state_created_idx ON webhook_deliveries (state, created_at, id)`,
	`CREATE INDEX webhook_deliveries_webhook_created_idx ON webhook_deliveries (webhook_id, created_at, id)`,
}
