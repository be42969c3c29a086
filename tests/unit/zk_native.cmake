# The native ZooKeeper client's pure layers (codec, paths, watch registry).
zks_unit_test(zk_native_codec_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_native_codec_test.cpp
  LIBS zks_zk)
