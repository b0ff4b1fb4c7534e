//! Storage (filled in by the registry work).
