// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package androidx.appcompat.app;

import android.app.Activity;
import android.view.View;

public class AppCompatActivity extends Activity {
    public AppCompatActivity() {}
    @Override public void setContentView(int layoutResID) { throw new UnsupportedOperationException("stand-in"); }
    @Override public <T extends View> T findViewById(int id) { throw new UnsupportedOperationException("stand-in"); }
}
