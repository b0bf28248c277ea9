# vpipe_io: walk and path lists, atomic files, the manifest (owner: storage).
add_library(vpipe_io STATIC walk.cpp paths.cpp manifest.cpp manifest_db.cpp manifest_schema.cpp
            file_store.cpp manifest_paths.cpp run_scope.cpp atomic_file.cpp read_file.cpp
            file_lock.cpp)
target_link_libraries(vpipe_io PUBLIC vpipe_core vpipe_engine PRIVATE SQLite::SQLite3)
