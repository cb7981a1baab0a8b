//! Every REST endpoint against every role.
