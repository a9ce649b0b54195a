/*
 * Decodes a baseline or progressive JPEG to packed 8-bit RGB with libjpeg-turbo, synchronously, on
 * the calling thread.
 *
 * Why by hand: sharp (libvips) decodes the same JPEG with the same libjpeg-turbo code and gives the
 * same pixels, but each call crosses threads (the caller, libuv's pool, libvips' workers) and builds
 * a libvips pipeline: on ImageNet-size photos that costs 3-4x the decoding itself (5.4 against
 * 1.4 ms of CPU per photo, docs/performance.md). No maintained npm package binds libjpeg-turbo's
 * decoder for Node 20 (jpeg-turbo was last released in 2016, for nan and node-pre-gyp).
 *
 * Only the plain case is taken here: 8-bit YCbCr, RGB or greyscale. Anything else, and any JPEG
 * libjpeg warns about (truncated, corrupt data), returns null, and the caller decodes it with sharp
 * as before, so errors and odd files behave exactly as they always did.
 */
#include <node_api.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

struct error_state {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
};

static void on_error(j_common_ptr cinfo) {
  struct error_state *state = (struct error_state *)cinfo->err;
  longjmp(state->jump, 1);
}

/* A warning (corrupt data, premature end) means sharp should decide what the file is worth. */
static void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) on_error(cinfo);
}

static napi_value null_value(napi_env env) {
  napi_value value;
  napi_get_null(env, &value);
  return value;
}

static int set_number(napi_env env, napi_value object, const char *name, double number) {
  napi_value value;
  if (napi_create_double(env, number, &value) != napi_ok) return 0;
  return napi_set_named_property(env, object, name, value) == napi_ok;
}

/*
 * Where the pixels go: into `scratch` when it is large enough (the caller reuses one buffer, so
 * decoding allocates nothing and the garbage collector has no large buffer to chase), else into a
 * new Buffer of the exact size.
 */
static void *output_for(napi_env env, napi_value scratch, size_t bytes, napi_value *data) {
  napi_valuetype kind;
  if (napi_typeof(env, scratch, &kind) == napi_ok && kind == napi_object) {
    napi_typedarray_type type;
    size_t length;
    void *at;
    if (napi_get_typedarray_info(env, scratch, &type, &length, &at, NULL, NULL) == napi_ok && type == napi_uint8_array &&
        length >= bytes) {
      *data = scratch;
      return at;
    }
  }
  void *at;
  return napi_create_buffer(env, bytes, &at, data) == napi_ok ? at : NULL;
}

/*
 * decode(bytes: Uint8Array, maxPixels: number, scratch: Uint8Array | null):
 *   { data: Uint8Array, width, height } | null
 * `data` holds width x height x 3 bytes from its start: `scratch` itself or a new Buffer.
 */
static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return null_value(env);
  napi_typedarray_type type;
  size_t length;
  void *input;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &input, NULL, NULL) != napi_ok ||
      type != napi_uint8_array || length == 0)
    return null_value(env);
  double max_pixels;
  if (napi_get_value_double(env, argv[1], &max_pixels) != napi_ok) return null_value(env);

  struct jpeg_decompress_struct cinfo;
  struct error_state err;
  napi_value result = NULL;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = on_error;
  err.mgr.emit_message = on_message;
  jpeg_create_decompress(&cinfo);
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return null_value(env);
  }
  jpeg_mem_src(&cinfo, (const unsigned char *)input, (unsigned long)length);
  if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) longjmp(err.jump, 1);
  int plain = cinfo.data_precision == 8 &&
              ((cinfo.num_components == 3 && (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB)) ||
               (cinfo.num_components == 1 && cinfo.jpeg_color_space == JCS_GRAYSCALE));
  if (!plain || (double)cinfo.image_width * (double)cinfo.image_height > max_pixels) longjmp(err.jump, 1);
  cinfo.out_color_space = JCS_RGB;
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&cinfo);
  size_t stride = (size_t)cinfo.output_width * 3;
  napi_value buffer;
  void *pixels = output_for(env, argv[2], stride * cinfo.output_height, &buffer);
  if (!pixels) longjmp(err.jump, 1);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rows[16];
    JDIMENSION n = cinfo.output_height - cinfo.output_scanline;
    if (n > 16) n = 16;
    for (JDIMENSION i = 0; i < n; i++) rows[i] = (JSAMPROW)pixels + (size_t)(cinfo.output_scanline + i) * stride;
    /* A memory source never suspends; no rows read would mean a stuck decoder, never a busy loop. */
    if (jpeg_read_scanlines(&cinfo, rows, n) == 0) longjmp(err.jump, 1);
  }
  jpeg_finish_decompress(&cinfo);
  napi_value object;
  if (napi_create_object(env, &object) == napi_ok && napi_set_named_property(env, object, "data", buffer) == napi_ok &&
      set_number(env, object, "width", cinfo.output_width) && set_number(env, object, "height", cinfo.output_height))
    result = object;
  jpeg_destroy_decompress(&cinfo);
  return result ? result : null_value(env);
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "decode", NAPI_AUTO_LENGTH, decode, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "decode", fn) != napi_ok) return NULL;
  return exports;
}
