"""Topic forums: topics opened by officials, threads and replies by residents, flags and search."""
