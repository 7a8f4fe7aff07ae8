"""Runs in the git object database: the one pygit2 user (gitrepo), the format's names (refs), the run
record and its note codec (run), the write protocol (store), remotes, and the derived caches."""
