package main

// BackupKeyLabel derives the key of a backup's manifest from the master
// key, for tests that restore a backup by JetStream's means alone.
const BackupKeyLabel = backupKeyLabel
