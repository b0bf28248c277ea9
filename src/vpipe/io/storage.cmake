# vpipe_io: walk.cpp manifest.cpp atomic_file.cpp (owner: storage)
