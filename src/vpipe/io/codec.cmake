# vpipe_codec: format.cpp decode.cpp encode.cpp (owner: codecs)
