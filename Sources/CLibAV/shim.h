// FFmpeg 5.1 (libavformat, libavcodec, libswscale, libavutil), owned by the TesseraMedia target.
// Function-like macros do not import into Swift, so the ones Tessera needs are wrapped here, and so is the
// log callback (it takes a va_list, which Swift cannot format).
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/cpu.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>

static inline int tessera_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int tessera_averror_eof(void) { return AVERROR_EOF; }
static inline int tessera_averror(int posix_errno) { return AVERROR(posix_errno); }
static inline int64_t tessera_nopts_value(void) { return AV_NOPTS_VALUE; }

/// The last error-level libav log line of the calling thread: libav often says more in its log ("moov atom
/// not found") than in its return code ("Invalid data found when processing input").
static inline char *tessera_last_log_line(void) {
    static _Thread_local char line[512];
    return line;
}

static inline void tessera_clear_log_line(void) { tessera_last_log_line()[0] = 0; }

static inline void tessera_log_callback(void *object, int level, const char *format, va_list arguments) {
    if (level <= AV_LOG_ERROR) {
        char *line = tessera_last_log_line();
        const char *name = NULL;
        if (object) {
            AVClass *cls = *(AVClass **)object;
            if (cls && cls->item_name) name = cls->item_name(object);
        }
        int offset = name ? snprintf(line, 512, "%s: ", name) : 0;
        if (offset < 0 || offset >= 512) offset = 0;
        va_list copy;
        va_copy(copy, arguments);
        vsnprintf(line + offset, 512 - (size_t)offset, format, copy);
        va_end(copy);
        size_t length = strlen(line);
        while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r')) line[--length] = 0;
    }
    av_log_default_callback(object, level, format, arguments);
}

static inline void tessera_install_log_callback(int level) {
    av_log_set_level(level);
    av_log_set_callback(tessera_log_callback);
}
