//! The only redb user: tables, migrations, append-only audit chain, group commit.
