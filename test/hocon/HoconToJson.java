// Parses HOCON files with Lightbend Config (the parser Pekko itself uses) and prints
// {"<file>": <resolved config as JSON>, ...}: an oracle the formula did not write.
// Run as a single-file source program: java -cp /usr/share/java/typesafe-config.jar HoconToJson.java F...
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigUtil;
import java.io.File;

public class HoconToJson {
    public static void main(String[] args) {
        ConfigParseOptions strict = ConfigParseOptions.defaults().setAllowMissing(false);
        StringBuilder out = new StringBuilder("{");
        for (int i = 0; i < args.length; i++) {
            String json;
            try {
                // resolve(): substitutions like ${HOME} as the JVM would see them
                json = ConfigFactory.parseFile(new File(args[i]), strict).resolve()
                        .root().render(ConfigRenderOptions.concise());
            } catch (ConfigException e) {
                System.err.println(args[i] + ": " + e.getMessage());
                System.exit(2);
                return;
            }
            out.append(i == 0 ? "" : ",").append(ConfigUtil.quoteString(args[i]))
               .append(":").append(json);
        }
        System.out.println(out.append("}"));
    }
}
