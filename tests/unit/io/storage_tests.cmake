# storage tests: walk and path lists, atomic files, the manifest.
vpipe_add_test(walk_test SOURCES walk_test.cpp LIBS vpipe_io)
vpipe_add_test(paths_test SOURCES paths_test.cpp LIBS vpipe_io)
vpipe_add_test(atomic_file_test SOURCES atomic_file_test.cpp LIBS vpipe_io)
vpipe_add_test(manifest_test SOURCES manifest_test.cpp
  LIBS vpipe_io vpipe_dedup vpipe_infer vpipe_crawl vpipe_curate SQLite::SQLite3)
vpipe_add_test(manifest_infer_test SOURCES manifest_infer_test.cpp LIBS vpipe_io vpipe_infer vpipe_dedup vpipe_curate
  SQLite::SQLite3)
vpipe_add_test(manifest_paths_test SOURCES manifest_paths_test.cpp
  LIBS vpipe_io vpipe_dedup vpipe_infer vpipe_crawl vpipe_curate SQLite::SQLite3)
# the connection and typed statement of the table stores
vpipe_add_test(manifest_db_test SOURCES manifest_db_test.cpp LIBS vpipe_io SQLite::SQLite3)
vpipe_add_test(file_lock_test SOURCES file_lock_test.cpp LIBS vpipe_io)
# RunScope: a pass's run ends completed, interrupted or failed (with its counts) however it leaves
vpipe_add_test(run_scope_test SOURCES run_scope_test.cpp LIBS vpipe_io)
