// Linked into every module library so a module whose folder is still empty configures; it
// defines nothing.
