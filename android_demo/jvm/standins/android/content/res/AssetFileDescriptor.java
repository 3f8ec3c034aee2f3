// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package android.content.res;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;

public class AssetFileDescriptor implements Closeable {
    private AssetFileDescriptor() {}
    public FileDescriptor getFileDescriptor() { throw new UnsupportedOperationException("stand-in"); }
    public long getStartOffset() { throw new UnsupportedOperationException("stand-in"); }
    public long getDeclaredLength() { throw new UnsupportedOperationException("stand-in"); }
    public long getLength() { throw new UnsupportedOperationException("stand-in"); }
    @Override public void close() throws IOException { throw new UnsupportedOperationException("stand-in"); }
}
