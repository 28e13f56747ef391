//! Placeholder while the backend is written (see io/mod.rs for the contract).
