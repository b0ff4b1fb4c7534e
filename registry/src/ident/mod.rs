//! Identifier grammar (filled in by the registry work).
