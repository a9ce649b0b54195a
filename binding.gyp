{
  "targets": [
    {
      "target_name": "jpeg_decode",
      "sources": ["native/jpeg/jpeg_decode.c"],
      "libraries": ["-ljpeg"],
      "cflags": ["-O2"]
    }
  ]
}
