//! In-process tests of the admin API.
