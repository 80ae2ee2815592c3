-- Users, projects, proposals, revoked tokens and the cache generations PostgreSQL keeps
-- for Redis (see marketplace/generations.py). UUID primary keys throughout.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
    password_hash text NOT NULL,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role          text NOT NULL DEFAULT 'client' CHECK (role IN ('client', 'agent', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE projects (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title          text NOT NULL CHECK (length(title) BETWEEN 3 AND 200),
    description    text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    budget         numeric(12, 2) NOT NULL CHECK (budget > 0 AND budget <= 1000000000),
    skills         text[] NOT NULL DEFAULT '{}',
    status         text NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'in_progress', 'completed', 'cancelled')),
    deadline       timestamptz,
    proposal_count integer NOT NULL DEFAULT 0 CHECK (proposal_count >= 0),
    search         tsvector GENERATED ALWAYS AS (
                       to_tsvector('english', title || ' ' || description)) STORED,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Listing: newest first or highest budget first, optionally within one status.
CREATE INDEX projects_created_idx ON projects (created_at DESC, id DESC);
CREATE INDEX projects_budget_idx ON projects (budget DESC, id DESC);
CREATE INDEX projects_status_created_idx ON projects (status, created_at DESC, id DESC);
CREATE INDEX projects_status_budget_idx ON projects (status, budget DESC, id DESC);
CREATE INDEX projects_skills_idx ON projects USING gin (skills);
CREATE INDEX projects_search_idx ON projects USING gin (search);
CREATE INDEX projects_owner_idx ON projects (owner_id);

CREATE TABLE proposals (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    agent_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cover_letter text NOT NULL CHECK (length(cover_letter) BETWEEN 1 AND 5000),
    bid_amount   numeric(12, 2) NOT NULL CHECK (bid_amount > 0 AND bid_amount <= 1000000000),
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'accepted', 'rejected')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, agent_id)
);
CREATE INDEX proposals_agent_idx ON proposals (agent_id);
CREATE UNIQUE INDEX proposals_one_accepted_idx ON proposals (project_id) WHERE status = 'accepted';

CREATE TABLE revoked_tokens (
    jti        text PRIMARY KEY,
    user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);

CREATE TABLE cache_generations (
    name  text PRIMARY KEY,
    value bigint NOT NULL DEFAULT 0
);
INSERT INTO cache_generations (name) VALUES ('projects'), ('revoked_tokens');
