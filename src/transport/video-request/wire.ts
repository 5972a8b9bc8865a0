/**
 * The words of the video-by-name exchange of the Python/OpenCV "video player" tutorials (see
 * docs/PROTOCOL.md, "Video by name"): the client names a file, the server says `True` and plays
 * it as frames, the client replies after each frame, `EOF` ends it from either side.
 */

/** The longest request: the reference server reads it with one `recv(1024)`. */
export const MAX_REQUEST_BYTES = 1024;

/** The server's answer to a name it will play; frames follow. */
export const ACCEPTED = Buffer.from('True');

/** Ends the video: the server's instead of a header, the client's instead of a reply. */
export const END = Buffer.from('EOF');

/** The client's reply after each frame. */
export const RECEIVED = Buffer.from('Rec');

/**
 * vstream's own request for the names a server offers. A NUL byte is in no file name, so no
 * video can be named this; a reference server finds no such file and answers `False`.
 */
export const LIST_REQUEST = Buffer.from('\0list');

/** First line of the answer to LIST_REQUEST; the names follow one a line, then an empty line. */
export const LIST_HEADER = 'List';

/** The answer to a request refused: a reference client takes anything but `True` as the end. */
export function refusal(reason: string): Buffer {
  return Buffer.from(`False: ${reason}\n`);
}
