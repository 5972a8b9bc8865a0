/*
 * libjpeg-turbo for vstream, as a Node-API addon: JPEG -> raw pixels and YUV 4:2:0 -> JPEG on
 * libuv's thread pool, returning promises.
 *
 * Why not sharp for these: libvips' per-image pipeline costs about 1.5 ms before a pixel is
 * decoded, four times libjpeg-turbo's own decode time of a 640x480 frame; live video decodes
 * hundreds of small images a second, where that overhead is most of the work.
 *
 * Frames come from the network: every JPEG is hostile until decoded. libjpeg's fatal errors
 * longjmp back here (never exit()); the image's pixel count is checked against the caller's
 * limit before anything is allocated for it, and a multi-scan (progressive) image's scans and
 * coefficient memory are bounded too.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

#define CHECK(call)                                                         \
  do {                                                                      \
    if ((call) != napi_ok) {                                                \
      napi_throw_error(env, "ERR_JPEG_ADDON", "vstream_jpeg: " #call " failed"); \
      return NULL;                                                          \
    }                                                                       \
  } while (0)

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  /* The job's error code when a limit of ours longjmps; NULL for libjpeg's own errors. */
  const char *code;
  char message[JMSG_LENGTH_MAX + 96];
} error_mgr;

static void on_error_exit(j_common_ptr cinfo) {
  error_mgr *err = (error_mgr *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

/* Warnings (a truncated or damaged frame) are not fatal: what decoded is still worth showing. */
static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void init_errors(error_mgr *err, j_common_ptr cinfo) {
  cinfo->err = jpeg_std_error(&err->pub);
  err->pub.error_exit = on_error_exit;
  err->pub.output_message = on_output_message;
  err->code = NULL;
  err->message[0] = '\0';
}

/* Ends the decode with `code` and a message, the way libjpeg's own fatal errors do. */
static void refuse(error_mgr *err, const char *code, const char *format, ...) __attribute__((format(printf, 3, 4), noreturn));
static void refuse(error_mgr *err, const char *code, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(err->message, sizeof err->message, format, args);
  va_end(args);
  err->code = code;
  longjmp(err->jump, 1);
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref;
  const unsigned char *input;
  size_t input_len;
  /* Decoding into the caller's Buffer (kept alive by `target_ref`) instead of a new one: a
   * receiver reusing a few frame buffers spares the allocator, page faults and the GC. */
  napi_ref target_ref;
  bool has_target;
  unsigned char *target; /* NULL for an empty Buffer */
  size_t target_len;
  /* The result: `target` or a malloc'd buffer handed to JavaScript; or an error. */
  unsigned char *output;
  size_t output_len;
  unsigned width, height, channels;
  const char *error_code;
  char error[JMSG_LENGTH_MAX + 96];
} job_base;

/* `hint` is the buffer's length: V8 is told about the memory both ways, so that a stream of
 * megabyte frames held by small JavaScript objects still prompts garbage collection. */
static void free_output(napi_env env, void *data, void *hint) {
  int64_t ignored;
  free(data);
  napi_adjust_external_memory(env, -(int64_t)(uintptr_t)hint, &ignored);
}

/* The JavaScript Buffer holding a successful job's pixels or JPEG: the caller's target, or the
 * malloc'd output handed over (copied where external memory is refused). */
static napi_value output_buffer(napi_env env, job_base *job) {
  napi_value buffer;
  if (job->target_ref != NULL) {
    napi_get_reference_value(env, job->target_ref, &buffer);
  } else if (napi_create_external_buffer(env, job->output_len, job->output, free_output, (void *)(uintptr_t)job->output_len, &buffer) ==
             napi_ok) {
    int64_t ignored;
    napi_adjust_external_memory(env, (int64_t)job->output_len, &ignored);
  } else {
    /* Runtimes with a V8 sandbox refuse external memory: copy instead. */
    napi_create_buffer_copy(env, job->output_len, job->output, NULL, &buffer);
    free(job->output);
  }
  job->output = NULL;
  return buffer;
}

/* Lets go of what a job holds in JavaScript: the Buffers it kept alive and its async work. Each
 * is NULL until taken, so this also undoes a job that was never queued. */
static void release_job(napi_env env, job_base *job) {
  if (job->input_ref != NULL) napi_delete_reference(env, job->input_ref);
  if (job->target_ref != NULL) napi_delete_reference(env, job->target_ref);
  if (job->work != NULL) napi_delete_async_work(env, job->work);
  job->input_ref = job->target_ref = NULL;
  job->work = NULL;
}

/* Settles the job's promise and lets go of its references (the caller frees it). Runs on the
 * JavaScript thread. */
static void settle(napi_env env, job_base *job) {
  napi_value value;
  if (job->output != NULL) {
    napi_value number;
    napi_create_object(env, &value);
    napi_set_named_property(env, value, "data", output_buffer(env, job));
    napi_create_uint32(env, job->width, &number);
    napi_set_named_property(env, value, "width", number);
    napi_create_uint32(env, job->height, &number);
    napi_set_named_property(env, value, "height", number);
    napi_create_uint32(env, job->channels, &number);
    napi_set_named_property(env, value, "channels", number);
    napi_resolve_deferred(env, job->deferred, value);
  } else {
    napi_value code, message;
    napi_create_string_utf8(env, job->error_code, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, job->error, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, code, message, &value);
    napi_reject_deferred(env, job->deferred, value);
  }
  release_job(env, job);
}

/* ---- decode ---------------------------------------------------------------------------- */

enum { FORMAT_RGB = 0, FORMAT_BGR = 1, FORMAT_GRAY = 2 };

/* A progressive JPEG may repeat scans, and every scan is one more pass over all of the image's
 * coefficients: a 130 KB frame of 1000 scans at 4096x4096 kept a core busy for 17 s. Encoders
 * write 10 or so; libjpeg-turbo's own TurboJPEG API offers the same guard (TJPARAM_SCANLIMIT).
 * MAX_JPEG_SCANS in src/decode/limits.ts, for sharp, is the same number (a test checks). */
#define MAX_SCANS 100

/* A multi-scan image keeps every coefficient of the image in memory until its last scan, two
 * bytes a sample. Four full-resolution components (CMYK 4:4:4) are the most a JPEG decodable
 * to pixels has: 8 bytes a pixel, 512 MB at the default limit of 64 Mpx. */
#define MAX_COEFFICIENT_SAMPLES_PER_PIXEL 4

/* libjpeg's own working memory besides the coefficients (row buffers, tables): its allocator
 * refuses to hold more than the coefficient budget plus this. */
#define WORKING_MEMORY_BYTES (16.0 * 1024 * 1024)

typedef struct {
  job_base base;
  int format;
  int scale_denom;
  double max_pixels;
} decode_job;

/* libjpeg calls this between chunks of input while it absorbs a multi-scan image. */
static void on_progress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
  if (dinfo->input_scan_number > MAX_SCANS) {
    refuse((error_mgr *)cinfo->err, "ERR_JPEG_TOO_MANY_SCANS", "a JPEG of more than %d scans", MAX_SCANS);
  }
}

/* The scans (SOS markers) of a JPEG, counted up to `limit + 1` by walking its marker segments
 * and skipping entropy-coded data, without decoding: libjpeg alone would decode `limit` scans
 * before on_progress stops it (1.8 s for a 4096x4096 image). Stops quietly at anything
 * malformed, which libjpeg then reports. */
static int count_scans(const unsigned char *p, size_t n, int limit) {
  if (n < 2 || p[0] != 0xFF || p[1] != 0xD8) return 0;
  int scans = 0;
  size_t pos = 2;
  while (pos + 1 < n && scans <= limit) {
    /* Stray bytes between segments: libjpeg skips them to the next marker too. */
    if (p[pos] != 0xFF || p[pos + 1] == 0xFF) {
      pos++;
      continue;
    }
    unsigned char marker = p[pos + 1];
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      pos += 2;
      continue;
    }
    if (marker == 0xD8 || marker == 0xD9 || pos + 3 >= n) break;
    size_t length = ((size_t)p[pos + 2] << 8) | p[pos + 3];
    if (length < 2) break;
    pos += 2 + length;
    if (marker != 0xDA) continue;
    scans++;
    /* Entropy-coded data runs to the first 0xFF followed by neither a stuffed 0x00 nor RSTn. */
    while (pos + 1 < n && !(p[pos] == 0xFF && p[pos + 1] != 0x00 && (p[pos + 1] < 0xD0 || p[pos + 1] > 0xD7))) pos++;
  }
  return scans;
}

/* The coefficient samples a multi-scan image holds at once: every component's blocks, padded to
 * whole MCUs as libjpeg's coefficient buffer is. Valid after jpeg_read_header. */
static double coefficient_samples(j_decompress_ptr cinfo) {
  double samples = 0;
  for (int c = 0; c < cinfo->num_components; c++) {
    const jpeg_component_info *comp = &cinfo->comp_info[c];
    double across = ceil((double)comp->width_in_blocks / comp->h_samp_factor) * comp->h_samp_factor;
    double down = ceil((double)comp->height_in_blocks / comp->v_samp_factor) * comp->v_samp_factor;
    samples += across * down * DCTSIZE2;
  }
  return samples;
}

/* The image's area padded to whole MCUs: what one full-resolution component covers. */
static double padded_pixels(j_decompress_ptr cinfo) {
  double mcu_width = (double)cinfo->max_h_samp_factor * DCTSIZE, mcu_height = (double)cinfo->max_v_samp_factor * DCTSIZE;
  return ceil(cinfo->image_width / mcu_width) * mcu_width * ceil(cinfo->image_height / mcu_height) * mcu_height;
}

/* Refuses, before libjpeg allocates anything for the image, one over the caller's limits. */
static void check_limits(j_decompress_ptr cinfo, error_mgr *err, double max_pixels, const unsigned char *input, size_t input_len) {
  double pixels = (double)cinfo->image_width * (double)cinfo->image_height;
  if (pixels > max_pixels) {
    refuse(err, "ERR_JPEG_TOO_LARGE", "a %ux%u image is over the limit of %.0f pixels", cinfo->image_width, cinfo->image_height, max_pixels);
  }
  if (!jpeg_has_multiple_scans(cinfo)) return;
  if (count_scans(input, input_len, MAX_SCANS) > MAX_SCANS) {
    refuse(err, "ERR_JPEG_TOO_MANY_SCANS", "a JPEG of more than %d scans", MAX_SCANS);
  }
  double budget = MAX_COEFFICIENT_SAMPLES_PER_PIXEL * padded_pixels(cinfo);
  double samples = coefficient_samples(cinfo);
  if (samples > budget) {
    refuse(err, "ERR_JPEG_TOO_LARGE", "a %ux%u multi-scan image of %d components needs %.0f MB of coefficients, over the limit of %.0f MB",
           cinfo->image_width, cinfo->image_height, cinfo->num_components, samples * sizeof(JCOEF) / 1e6, budget * sizeof(JCOEF) / 1e6);
  }
  /* Beyond this libjpeg's allocator asks for a backing store, which this build has not: an error. */
  double cap = samples * sizeof(JCOEF) + WORKING_MEMORY_BYTES;
  cinfo->mem->max_memory_to_use = cap < (double)LONG_MAX ? (long)cap : LONG_MAX;
}

static void decode_execute(napi_env env, void *data) {
  (void)env;
  decode_job *job = (decode_job *)data;
  struct jpeg_decompress_struct cinfo;
  struct jpeg_progress_mgr progress = {.progress_monitor = on_progress};
  error_mgr err;
  unsigned char *volatile owned = NULL;
  init_errors(&err, (j_common_ptr)&cinfo);
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    free(owned);
    job->base.error_code = err.code != NULL ? err.code : "ERR_JPEG_DECODE";
    snprintf(job->base.error, sizeof job->base.error, "%s", err.message);
    return;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, job->base.input, (unsigned long)job->base.input_len);
  jpeg_read_header(&cinfo, TRUE);
  check_limits(&cinfo, &err, job->max_pixels, job->base.input, job->base.input_len);
  cinfo.scale_num = 1;
  cinfo.scale_denom = (unsigned)job->scale_denom;
  cinfo.out_color_space = job->format == FORMAT_GRAY ? JCS_GRAYSCALE : job->format == FORMAT_BGR ? JCS_EXT_BGR : JCS_EXT_RGB;
  jpeg_calc_output_dimensions(&cinfo);
  size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
  size_t length = stride * cinfo.output_height;
  if (job->base.has_target && job->base.target_len < length) {
    refuse(&err, "ERR_JPEG_TARGET_SIZE", "a %ux%ux%d image needs %zu bytes, the target has %zu", cinfo.output_width, cinfo.output_height,
           cinfo.output_components, length, job->base.target_len);
  }
  /* A multi-scan image is read whole here, its scans counted by on_progress. */
  jpeg_start_decompress(&cinfo);
  unsigned char *out = job->base.target;
  if (!job->base.has_target) {
    out = owned = (unsigned char *)malloc(length > 0 ? length : 1);
    if (out == NULL) refuse(&err, "ERR_JPEG_DECODE", "out of memory for a %ux%u image", cinfo.output_width, cinfo.output_height);
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rows[32];
    unsigned n = cinfo.output_height - cinfo.output_scanline;
    if (n > 32) n = 32;
    for (unsigned i = 0; i < n; i++) rows[i] = out + (size_t)(cinfo.output_scanline + i) * stride;
    jpeg_read_scanlines(&cinfo, rows, n);
  }
  jpeg_finish_decompress(&cinfo);
  job->base.width = cinfo.output_width;
  job->base.height = cinfo.output_height;
  job->base.channels = (unsigned)cinfo.output_components;
  jpeg_destroy_decompress(&cinfo);
  job->base.output = out;
  job->base.output_len = length;
}

static void decode_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  decode_job *job = (decode_job *)data;
  settle(env, &job->base);
  free(job);
}

/* Reads a Buffer argument; throws and returns 0 when it is not one. */
static int get_buffer(napi_env env, napi_value value, const unsigned char **data, size_t *length) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Buffer");
    return 0;
  }
  void *raw;
  if (napi_get_buffer_info(env, value, &raw, length) != napi_ok) return 0;
  *data = (const unsigned char *)raw;
  return 1;
}

#ifdef VSTREAM_JPEG_FAULTS
/* Test builds only (test/turbo-jpeg.test.ts builds one): VSTREAM_JPEG_FAIL_STEP=n makes the
 * n-th N-API call of queue_job fail as if Node had refused it, to prove the clean-up. */
static int fault_here(int n) {
  const char *at = getenv("VSTREAM_JPEG_FAIL_STEP");
  return at != NULL && atoi(at) == n;
}
#define STEP(n, call) (fault_here(n) ? napi_generic_failure : (call))
#else
#define STEP(n, call) (call)
#endif

/* Queues a job whose input is `input`; returns its promise. On failure it throws, lets go of
 * every reference the job holds (else the frames stay alive for ever) and returns NULL: the
 * caller then frees the job. */
static napi_value queue_job(napi_env env, job_base *job, napi_value input, const char *name, napi_async_execute_callback execute,
                            napi_async_complete_callback complete) {
  napi_value promise, resource_name;
  job->deferred = NULL;
  if (STEP(1, napi_create_reference(env, input, 1, &job->input_ref)) != napi_ok ||
      STEP(2, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name)) != napi_ok ||
      STEP(3, napi_create_async_work(env, NULL, resource_name, execute, complete, job, &job->work)) != napi_ok ||
      STEP(4, napi_create_promise(env, &job->deferred, &promise)) != napi_ok ||
      STEP(5, napi_queue_async_work(env, job->work)) != napi_ok) {
    /* A deferred is only freed by settling it; its promise never reached JavaScript, so
     * resolving it is unobserved (rejecting it would be an unhandled rejection). */
    if (job->deferred != NULL) {
      napi_value undefined;
      napi_get_undefined(env, &undefined);
      napi_resolve_deferred(env, job->deferred, undefined);
    }
    release_job(env, job);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "ERR_JPEG_ADDON", "vstream_jpeg: could not queue the job");
    return NULL;
  }
  return promise;
}

/* decode(jpeg: Buffer, format: 0 rgb | 1 bgr | 2 gray, scaleDenom: 1|2|4|8, maxPixels: number,
 *   target?: Buffer) -> Promise<{ data, width, height, channels }>; `data` is `target` when given
 *   (ERR_JPEG_TARGET_SIZE if it is too small), else a new Buffer. */
static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value args[5];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  const unsigned char *input;
  size_t input_len;
  int32_t format = 0, scale = 1;
  double max_pixels = 0;
  if (argc < 4 || !get_buffer(env, args[0], &input, &input_len) || napi_get_value_int32(env, args[1], &format) != napi_ok ||
      napi_get_value_int32(env, args[2], &scale) != napi_ok || napi_get_value_double(env, args[3], &max_pixels) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "decode(jpeg: Buffer, format, scaleDenom, maxPixels: numbers, target?: Buffer)");
    return NULL;
  }
  /* NaN compares false with everything: unchecked, it would turn the pixel limit off. */
  if (format < 0 || format > 2 || (scale != 1 && scale != 2 && scale != 4 && scale != 8) || !isfinite(max_pixels) || max_pixels < 0) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "decode: format 0-2, scaleDenom 1, 2, 4 or 8, maxPixels a finite number >= 0");
    return NULL;
  }
  const unsigned char *target = NULL;
  size_t target_len = 0;
  napi_valuetype target_type = napi_undefined;
  if (argc >= 5) napi_typeof(env, args[4], &target_type);
  if (target_type != napi_undefined && !get_buffer(env, args[4], &target, &target_len)) return NULL;
  decode_job *job = (decode_job *)calloc(1, sizeof(decode_job));
  if (job == NULL) {
    napi_throw_error(env, "ERR_JPEG_ADDON", "out of memory");
    return NULL;
  }
  job->base.input = input;
  job->base.input_len = input_len;
  job->format = format;
  job->scale_denom = scale;
  job->max_pixels = max_pixels;
  if (target_type != napi_undefined) {
    if (napi_create_reference(env, args[4], 1, &job->base.target_ref) != napi_ok) {
      free(job);
      napi_throw_error(env, "ERR_JPEG_ADDON", "vstream_jpeg: could not hold the target Buffer");
      return NULL;
    }
    job->base.has_target = true;
    job->base.target = (unsigned char *)target;
    job->base.target_len = target_len;
  }
  napi_value promise = queue_job(env, &job->base, args[0], "vstream_jpeg.decode", decode_execute, decode_complete);
  if (promise == NULL) free(job);
  return promise;
}

/* ---- encode ---------------------------------------------------------------------------- */

typedef struct {
  job_base base;
  unsigned width, height;
  int quality;
  int optimize;
  int limited;
} encode_job;

/* Limited ("TV", 16-235 / 16-240) to full range, which JPEG (JFIF) assumes. ffmpeg's swscale
 * does the same for 0.5-1.6 ms a frame; folded into the row copy below it costs about 0.03 ms.
 * Fixed-point rather than a 256-entry table so that the compiler can vectorise it (a table
 * lookup cannot be, and took 0.18 ms a 640x480 frame). The constants are the exact
 * round-to-nearest of (v - 16) * 255 / 219 and of 128 + (v - 128) * 255 / 224 (ties away from
 * 128) for every 8-bit v: test/turbo-jpeg.test.ts checks all 256 against that formula. */
enum row_range { ROW_COPY, ROW_LUMA_FULL, ROW_CHROMA_FULL };

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
/* The AVX2 copy runs where the CPU has it; the default one is plain SSE2. */
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

VECTOR_CLONES static void expand_row(unsigned char *restrict dst, const unsigned char *restrict src, unsigned width,
                                     enum row_range range) {
  if (range == ROW_LUMA_FULL) {
    for (unsigned x = 0; x < width; x++) {
      uint32_t t = src[x] < 16 ? 0 : (uint32_t)src[x] - 16;
      uint32_t y = (t * 76309u + 32768u) >> 16;
      dst[x] = (unsigned char)(y > 255 ? 255 : y);
    }
  } else if (range == ROW_CHROMA_FULL) {
    for (unsigned x = 0; x < width; x++) {
      /* >> of a negative int: arithmetic shift (floor) on every compiler this builds with. */
      int32_t c = 128 + ((((int32_t)src[x] - 128) * 74605 + 32512) >> 16);
      dst[x] = (unsigned char)(c < 0 ? 0 : c > 255 ? 255 : c);
    }
  } else {
    memcpy(dst, src, width);
  }
}

/* Copies `count` rows of a plane into `rows` (range-expanded as `range` says), padding each to
 * `padded` bytes by repeating the last pixel and the block below the image by repeating the
 * last row: libjpeg's raw-data input reads whole 8x8 blocks. */
static void fill_rows(JSAMPROW *rows, unsigned count, const unsigned char *plane, unsigned width, unsigned height, unsigned first,
                      unsigned padded, enum row_range range) {
  for (unsigned i = 0; i < count; i++) {
    unsigned y = first + i < height ? first + i : height - 1;
    expand_row(rows[i], plane + (size_t)y * width, width, range);
    memset(rows[i] + width, rows[i][width - 1], padded - width);
  }
}

static void encode_execute(napi_env env, void *data) {
  (void)env;
  encode_job *job = (encode_job *)data;
  struct jpeg_compress_struct cinfo;
  error_mgr err;
  unsigned char *volatile out = NULL;
  unsigned long out_len = 0;
  unsigned char *volatile strip = NULL;
  init_errors(&err, (j_common_ptr)&cinfo);
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    free(out);
    free(strip);
    job->base.error_code = "ERR_JPEG_ENCODE";
    snprintf(job->base.error, sizeof job->base.error, "%s", err.message);
    return;
  }
  const unsigned w = job->width, h = job->height;
  const unsigned cw = (w + 1) / 2, ch = (h + 1) / 2;
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, (unsigned char **)&out, &out_len);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_YCbCr;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, job->quality, TRUE);
  cinfo.raw_data_in = TRUE;
  cinfo.optimize_coding = job->optimize ? TRUE : FALSE;
  cinfo.comp_info[0].h_samp_factor = 2;
  cinfo.comp_info[0].v_samp_factor = 2;
  for (int c = 1; c < 3; c++) {
    cinfo.comp_info[c].h_samp_factor = 1;
    cinfo.comp_info[c].v_samp_factor = 1;
  }
  /* One iMCU row: 16 luma rows and 8 of each chroma plane, each padded to whole MCUs. */
  const unsigned mcus = (w + 15) / 16;
  const unsigned y_pad = mcus * 16, c_pad = mcus * 8;
  strip = (unsigned char *)malloc((size_t)16 * y_pad + (size_t)16 * c_pad);
  if (strip == NULL) {
    snprintf(err.message, sizeof err.message, "out of memory");
    longjmp(err.jump, 1);
  }
  JSAMPROW y_rows[16], u_rows[8], v_rows[8];
  for (int i = 0; i < 16; i++) y_rows[i] = strip + (size_t)i * y_pad;
  for (int i = 0; i < 8; i++) {
    u_rows[i] = strip + (size_t)16 * y_pad + (size_t)i * c_pad;
    v_rows[i] = strip + (size_t)16 * y_pad + (size_t)(8 + i) * c_pad;
  }
  JSAMPARRAY planes[3] = {y_rows, u_rows, v_rows};
  const unsigned char *y_plane = job->base.input;
  const unsigned char *u_plane = y_plane + (size_t)w * h;
  const unsigned char *v_plane = u_plane + (size_t)cw * ch;
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    unsigned row = cinfo.next_scanline;
    const enum row_range ly = job->limited ? ROW_LUMA_FULL : ROW_COPY, lc = job->limited ? ROW_CHROMA_FULL : ROW_COPY;
    fill_rows(y_rows, 16, y_plane, w, h, row, y_pad, ly);
    fill_rows(u_rows, 8, u_plane, cw, ch, row / 2, c_pad, lc);
    fill_rows(v_rows, 8, v_plane, cw, ch, row / 2, c_pad, lc);
    jpeg_write_raw_data(&cinfo, planes, 16);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  free(strip);
  job->base.output = out;
  job->base.output_len = out_len;
  job->base.width = w;
  job->base.height = h;
  job->base.channels = 3;
}

static void encode_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  encode_job *job = (encode_job *)data;
  settle(env, &job->base);
  free(job);
}

/* encodeYuv420(planes: Buffer (Y, then U, then V, each chroma plane ceil(w/2) x ceil(h/2)),
 *   width, height, quality 1-100, optimize: boolean, limitedRange: boolean)
 *   -> Promise<{ data, width, height, channels }> */
static napi_value encode_yuv420(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value args[6];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "encodeYuv420(planes, width, height, quality, optimize, limitedRange)");
    return NULL;
  }
  encode_job *job = (encode_job *)calloc(1, sizeof(encode_job));
  if (job == NULL) {
    napi_throw_error(env, "ERR_JPEG_ADDON", "out of memory");
    return NULL;
  }
  uint32_t width = 0, height = 0;
  int32_t quality = 0;
  bool optimize = false, limited = false;
  if (!get_buffer(env, args[0], &job->base.input, &job->base.input_len) || napi_get_value_uint32(env, args[1], &width) != napi_ok ||
      napi_get_value_uint32(env, args[2], &height) != napi_ok || napi_get_value_int32(env, args[3], &quality) != napi_ok ||
      napi_get_value_bool(env, args[4], &optimize) != napi_ok || napi_get_value_bool(env, args[5], &limited) != napi_ok) {
    free(job);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "encodeYuv420(planes, width, height, quality, optimize, limitedRange)");
    return NULL;
  }
  size_t chroma = (size_t)((width + 1) / 2) * ((height + 1) / 2);
  if (width == 0 || height == 0 || width > 65500 || height > 65500 || quality < 1 || quality > 100 ||
      job->base.input_len < (size_t)width * height + 2 * chroma) {
    free(job);
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "encodeYuv420: planes too short for the size, or size or quality out of range");
    return NULL;
  }
  job->width = width;
  job->height = height;
  job->quality = quality;
  job->optimize = optimize;
  job->limited = limited;
  napi_value promise = queue_job(env, &job->base, args[0], "vstream_jpeg.encode", encode_execute, encode_complete);
  if (promise == NULL) free(job);
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "decode", NAPI_AUTO_LENGTH, decode, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "decode", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "encodeYuv420", NAPI_AUTO_LENGTH, encode_yuv420, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "encodeYuv420", fn) != napi_ok) return NULL;
  napi_value version;
  if (napi_create_int32(env, JPEG_LIB_VERSION, &version) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "jpegLibVersion", version) != napi_ok) return NULL;
  return exports;
}
