//! The only axum user: admin JSON API for the CLI and dashboard.
