// FFmpeg 5.1 (libavformat, libavcodec, libswscale, libavutil), owned by the TesseraMedia target.
// Function-like macros do not import into Swift, so the ones Tessera needs are wrapped here.
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>

static inline int tessera_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int tessera_averror_eof(void) { return AVERROR_EOF; }
