// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package android.content.res;

import java.io.IOException;
import java.io.InputStream;

public final class AssetManager implements AutoCloseable {
    private AssetManager() {}
    public InputStream open(String fileName) throws IOException { throw new UnsupportedOperationException("stand-in"); }
    public AssetFileDescriptor openFd(String fileName) throws IOException { throw new UnsupportedOperationException("stand-in"); }
    public void close() { throw new UnsupportedOperationException("stand-in"); }
}
