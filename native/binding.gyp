{
  "targets": [{
    "target_name": "netcap",
    "sources": ["src/addon.cc", "src/errors.cc", "src/pcap.cc", "src/bpf.cc", "src/perf.cc", "src/ringbuf.cc", "src/inject.cc", "src/netns.cc", "src/copy.cc", "src/file-map.cc"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
    "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-Wno-unused-parameter"],
    "libraries": ["-lpcap", "-lbpf", "-lelf", "-lz"]
  }]
}
